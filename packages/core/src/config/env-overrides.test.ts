import { describe, expect, it } from 'vitest';
import { envVariableFor } from './env-overrides.js';
import { ConfigError, parseConfig } from './load.js';

const FILE = `
source:
  postgres:
    url: postgres://cdc@127.0.0.1:15432/app
    tables: [public.users]
kafka:
  brokers: [127.0.0.1:19092]
stores:
  redis: { url: "redis://127.0.0.1:16379" }
rules:
  - table: public.users
    keys:
      - { key: "user:{id}", store: redis, action: refresh, ttl: 3600 }
      - { key: "user:email:{email}", store: redis, action: refresh }
search:
  elasticsearch: { node: "http://127.0.0.1:19200" }
  indexes:
    - table: public.users
      index: users
      fields: [name]
      mappings: { name: { type: text } }
`;

function load(env: Record<string, string>) {
  return parseConfig(FILE, { env, fileName: 'config.yaml' });
}

function problemsOf(env: Record<string, string>): readonly string[] {
  try {
    load(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('the configuration was accepted');
}

describe('environment overrides', () => {
  it('override a string', () => {
    const config = load({ CDC_CACHE__SOURCE__POSTGRES__URL: 'postgres://other@10.1.2.3:5432/prod' });
    expect(config.source.postgres.url).toBe('postgres://other@10.1.2.3:5432/prod');
  });

  it('read numbers and booleans as YAML', () => {
    const config = load({ CDC_CACHE__KAFKA__PARTITIONS: '12', CDC_CACHE__KAFKA__SSL: 'true' });
    expect(config.kafka.partitions).toBe(12);
    expect(config.kafka.ssl).toBe(true);
  });

  it('match camelCase options written in UPPER_SNAKE or in upper case', () => {
    const config = load({
      CDC_CACHE__SOURCE__POSTGRES__HEARTBEAT_INTERVAL_MS: '2500',
      CDC_CACHE__KAFKA__TOPICPREFIX: 'prod',
      CDC_CACHE__SERVICES__READ_API__PORT: '8080',
    });
    expect(config.source.postgres.heartbeatIntervalMs).toBe(2500);
    expect(config.kafka.topicPrefix).toBe('prod');
    expect(config.services.readApi.port).toBe(8080);
  });

  it('index lists: change an entry deep inside rules', () => {
    const config = load({ CDC_CACHE__RULES__0__KEYS__1__TTL: '60' });
    expect(config.rules[0]?.keys[1]).toEqual({
      key: 'user:email:{email}',
      store: 'redis',
      action: 'refresh',
      ttl: 60,
    });
    expect(config.rules[0]?.keys[0]?.ttl).toBe(3600);
  });

  it('replace a whole list, as YAML or comma-separated, then edit an entry of it', () => {
    expect(load({ CDC_CACHE__KAFKA__BROKERS: '[10.0.0.1:9092, 10.0.0.2:9092]' }).kafka.brokers).toEqual([
      '10.0.0.1:9092',
      '10.0.0.2:9092',
    ]);
    expect(load({ CDC_CACHE__KAFKA__BROKERS: '10.0.0.1:9092, 10.0.0.2:9092' }).kafka.brokers).toEqual([
      '10.0.0.1:9092',
      '10.0.0.2:9092',
    ]);
    const edited = load({
      CDC_CACHE__KAFKA__BROKERS__1: '10.0.0.9:9092',
      CDC_CACHE__KAFKA__BROKERS: '10.0.0.1:9092,10.0.0.2:9092',
    });
    expect(edited.kafka.brokers).toEqual(['10.0.0.1:9092', '10.0.0.9:9092']);
  });

  it('append to a list with the index just past its end', () => {
    const config = load({ CDC_CACHE__KAFKA__BROKERS__1: '127.0.0.2:19092' });
    expect(config.kafka.brokers).toEqual(['127.0.0.1:19092', '127.0.0.2:19092']);
  });

  it('create sections the file does not have', () => {
    const config = load({
      CDC_CACHE__STORES__MEMCACHED__SERVERS: '127.0.0.1:21211',
      CDC_CACHE__KAFKA__SASL__MECHANISM: 'scram-sha-512',
      CDC_CACHE__KAFKA__SASL__USERNAME: 'cdc',
      CDC_CACHE__KAFKA__SASL__PASSWORD: 'pw',
    });
    expect(config.stores.memcached).toEqual({
      servers: ['127.0.0.1:21211'],
      keyPrefix: '',
      maxKeyBytes: 250,
      fenceTtl: 86_400,
    });
    expect(config.kafka.sasl).toEqual({ mechanism: 'scram-sha-512', username: 'cdc', password: 'pw' });
  });

  it('set a mapping or a value inside a free-form mapping', () => {
    const config = load({
      CDC_CACHE__SEARCH__INDEXES__0__MAPPINGS__NAME__TYPE: 'keyword',
      CDC_CACHE__SEARCH__INDEXES__0__MAPPINGS__PRICE: '{ type: float }',
    });
    expect(config.search?.indexes[0]?.mappings).toEqual({
      name: { type: 'keyword' },
      price: { type: 'float' },
    });
  });

  it('take text verbatim, so a password may hold #, :, quotes and YAML syntax', () => {
    const password = `#p@ss: "w[o]rd' {x}`;
    const config = load({
      CDC_CACHE__SOURCE__POSTGRES__PASSWORD: password,
      CDC_CACHE__KAFKA__CLIENT_ID: '123',
    });
    expect(config.source.postgres.password).toBe(password);
    expect(config.kafka.clientId).toBe('123');
  });

  it('ignore variables without the CDC_CACHE__ prefix', () => {
    expect(load({ CDC_CACHE_CONFIG: '/x.yaml', CDC_CACHEX__KAFKA: '1', PATH: '/bin' }).kafka.partitions).toBe(
      6,
    );
  });

  it('reject a variable naming no option, naming the variable and the likely fix', () => {
    expect(problemsOf({ CDC_CACHE__KAFKA__BROKERZ: '127.0.0.1:9092' })).toEqual([
      'CDC_CACHE__KAFKA__BROKERZ: kafka has no option BROKERZ; did you mean CDC_CACHE__KAFKA__BROKERS?',
    ]);
    expect(problemsOf({ CDC_CACHE__SOURCE__MYSQL__URL: 'x' })).toEqual([
      'CDC_CACHE__SOURCE__MYSQL__URL: source has no option MYSQL; use one of its options: postgres',
    ]);
    expect(problemsOf({ CDC_CACHE__NOPE: 'x' })).toEqual([
      'CDC_CACHE__NOPE: the configuration has no option NOPE; use one of its options: source, kafka, envelope, types, stores, rules, search, services, log',
    ]);
  });

  it('reject a path that goes below a single value or indexes a list with a name', () => {
    expect(problemsOf({ CDC_CACHE__KAFKA__TOPIC_PREFIX__X: 'y' })).toEqual([
      'CDC_CACHE__KAFKA__TOPIC_PREFIX__X: kafka.topicPrefix is a single value and has no option X; set CDC_CACHE__KAFKA__TOPIC_PREFIX itself',
    ]);
    expect(problemsOf({ CDC_CACHE__KAFKA__BROKERS__FIRST: 'y' })).toEqual([
      'CDC_CACHE__KAFKA__BROKERS__FIRST: kafka.brokers is a list and FIRST is not an index; use a number, such as CDC_CACHE__KAFKA__BROKERS__0',
    ]);
    expect(problemsOf({ CDC_CACHE__KAFKA____PARTITIONS: '3' })).toEqual([
      'CDC_CACHE__KAFKA____PARTITIONS: the name has an empty segment (a "__" at the start or end, or "____"); separate option names with exactly "__"',
    ]);
  });

  it('reject an index past the end of a list', () => {
    expect(problemsOf({ CDC_CACHE__RULES__3__TABLE: 'public.users' })).toEqual([
      'CDC_CACHE__RULES__3__TABLE: rules has 1 entry, so index 3 is past the end; use 0 to 0 to change an entry, or 1 to add one',
    ]);
  });

  it('reject a value that is not YAML', () => {
    expect(problemsOf({ CDC_CACHE__KAFKA__BROKERS: '[127.0.0.1:9092' })).toEqual([
      'CDC_CACHE__KAFKA__BROKERS: the value is not valid YAML (Flow sequence must end with a ]); fix or quote it',
    ]);
  });

  it('name the variable when an overridden value is invalid', () => {
    expect(
      problemsOf({ CDC_CACHE__KAFKA__PARTITIONS: 'six', CDC_CACHE__RULES__0__KEYS__0__STORE: 'redis2' }),
    ).toEqual([
      'config.yaml: kafka.partitions (from CDC_CACHE__KAFKA__PARTITIONS): expected a whole number, got the text "six"; write a whole number',
      'config.yaml: rules[0].keys[0].store (from CDC_CACHE__RULES__0__KEYS__0__STORE): unknown store "redis2"; known: redis, memcached',
    ]);
  });

  it('spell the variable of an option', () => {
    expect(envVariableFor(['source', 'postgres', 'heartbeatIntervalMs'])).toBe(
      'CDC_CACHE__SOURCE__POSTGRES__HEARTBEAT_INTERVAL_MS',
    );
    expect(envVariableFor(['rules', 0, 'keys', 1, 'ttl'])).toBe('CDC_CACHE__RULES__0__KEYS__1__TTL');
  });
});
