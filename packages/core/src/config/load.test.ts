import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConfigError, configPathFromArgv, loadConfig, loadConfigOrExit, parseConfig } from './load.js';

/** A small valid configuration; each bad case below changes one thing. */
const VALID = `
source:
  postgres:
    url: postgres://cdc@127.0.0.1:15432/app
    tables: [public.users, public.orders]
kafka:
  brokers: [127.0.0.1:19092]
stores:
  redis: { url: "redis://127.0.0.1:16379" }
  memcached: { servers: [127.0.0.1:21211] }
rules:
  - table: public.users
    keys:
      - { key: "user:{id}", store: redis, action: refresh, ttl: 3600 }
      - { key: "user:email:{email}", store: memcached, action: evict }
  - table: public.orders
    keys:
      - { key: "user:{user_id}:orders", store: redis, action: evict }
`;

function problemsOf(text: string, env: Record<string, string> = {}): readonly string[] {
  try {
    parseConfig(text, { env, fileName: 'config.yaml' });
  } catch (error) {
    if (error instanceof ConfigError) {
      expect(error.message).toBe(error.problems.join('\n'));
      return error.problems;
    }
    throw error;
  }
  throw new Error('the configuration was accepted');
}

function edit(from: string, to: string): string {
  if (!VALID.includes(from)) throw new Error(`the valid config has no ${from}`);
  return VALID.replace(from, to);
}

describe('parseConfig', () => {
  it('accepts the valid configuration and fills in defaults', () => {
    const config = parseConfig(VALID);
    expect(config.source.postgres.slot).toBe('cdc_cache');
    expect(config.source.postgres.publication).toBe('cdc_cache');
    expect(config.source.postgres.heartbeatIntervalMs).toBe(10_000);
    expect(config.source.postgres.snapshot).toEqual({ mode: 'initial', batchSize: 10_000 });
    expect(config.kafka).toMatchObject({
      topicPrefix: 'cdc',
      partitions: 6,
      clientId: 'cdc-cache',
      ssl: false,
    });
    expect(config.envelope).toBe('cdc');
    expect(config.types).toBe('text');
    expect(config.stores.redis).toMatchObject({ keyPrefix: '', maxKeyBytes: 1024 });
    expect(config.stores.memcached).toMatchObject({ keyPrefix: '', maxKeyBytes: 250 });
    expect(config.rules[1]?.keys[0]).toEqual({
      key: 'user:{user_id}:orders',
      store: 'redis',
      action: 'evict',
    });
    expect(config.search).toBeUndefined();
    expect(config.services.cdcWorker).toEqual({ host: '127.0.0.1', port: 9481 });
    expect(config.services.cacheInvalidator).toEqual({
      host: '127.0.0.1',
      port: 9482,
      groupId: 'cdc-cache-invalidator',
      sessionTimeoutMs: 30_000,
      concurrency: 256,
      retry: { attempts: 8, backoffMs: 1000 },
    });
    expect(config.log.level).toBe('info');
  });

  describe('reports each bad configuration as one line with the exact path and the fix', () => {
    const cases: Array<[name: string, text: string, problems: string[]]> = [
      [
        'a broker without a port',
        edit('brokers: [127.0.0.1:19092]', 'brokers: [localhost]'),
        ['config.yaml: kafka.brokers[0]: "localhost" is not host:port; write it as 127.0.0.1:9092'],
      ],
      [
        'a rule naming an unknown store',
        edit('{ key: "user:{user_id}:orders", store: redis', '{ key: "user:{user_id}:orders", store: redis2'),
        ['config.yaml: rules[1].keys[0].store: unknown store "redis2"; known: redis, memcached'],
      ],
      [
        'a rule using a store that is not configured',
        edit('  memcached: { servers: [127.0.0.1:21211] }\n', ''),
        [
          'config.yaml: rules[0].keys[1].store: store "memcached" is not configured; add a stores.memcached section, or use redis',
        ],
      ],
      [
        'a misspelt top-level section',
        `${VALID}kafak: { partitions: 3 }\n`,
        [
          'config.yaml: kafak: unknown option; did you mean kafka? (options under the top level: source, kafka, envelope, types, stores, rules, search, services, log)',
        ],
      ],
      [
        'a snake_case option',
        edit('brokers: [127.0.0.1:19092]', 'brokers: [127.0.0.1:19092]\n  topic_prefix: cdc'),
        [
          'config.yaml: kafka.topic_prefix: unknown option; did you mean topicPrefix? (options under kafka: brokers, topicPrefix, partitions, replicationFactor, clientId, ssl, sasl)',
        ],
      ],
      [
        'an option that does not exist anywhere near',
        edit(
          'tables: [public.users, public.orders]',
          'tables: [public.users, public.orders]\n    colour: blue',
        ),
        [
          'config.yaml: source.postgres.colour: unknown option; remove it (options under source.postgres: url, password, slot, publication, tables, heartbeatIntervalMs, keyColumns, snapshot)',
        ],
      ],
      [
        'a word where a number belongs',
        edit('brokers: [127.0.0.1:19092]', 'brokers: [127.0.0.1:19092]\n  partitions: six'),
        ['config.yaml: kafka.partitions: expected a whole number, got the text "six"; write a whole number'],
      ],
      [
        'a missing required URL',
        edit('    url: postgres://cdc@127.0.0.1:15432/app\n', ''),
        [
          'config.yaml: source.postgres.url: missing; add url (a URL, such as postgres://cdc_cache@127.0.0.1:5432/app)',
        ],
      ],
      [
        'an empty URL (YAML null)',
        edit('url: postgres://cdc@127.0.0.1:15432/app', 'url:'),
        [
          'config.yaml: source.postgres.url: expected a URL, got nothing (null); write a URL, such as postgres://cdc_cache@127.0.0.1:5432/app',
        ],
      ],
      [
        'a URL of another database, with its password masked',
        edit('postgres://cdc@127.0.0.1:15432/app', 'mysql://cdc:hunter2@127.0.0.1/app'),
        [
          'config.yaml: source.postgres.url: "mysql://cdc:***@127.0.0.1/app" is not a PostgreSQL URL (it starts with mysql://); write it as postgres://cdc_cache@127.0.0.1:5432/app',
        ],
      ],
      [
        'a URL that does not parse, without showing its password',
        edit('postgres://cdc@127.0.0.1:15432/app', 'postgres//cdc:hunter2@127.0.0.1/app'),
        [
          'config.yaml: source.postgres.url: "***@127.0.0.1/app" is not a URL; write it as postgres://cdc_cache@127.0.0.1:5432/app',
        ],
      ],
      [
        'an unknown action',
        edit('store: memcached, action: evict', 'store: memcached, action: evcit'),
        ['config.yaml: rules[0].keys[1].action: unknown action "evcit"; known: refresh, evict'],
      ],
      [
        'a table without its schema',
        edit('tables: [public.users, public.orders]', 'tables: [users, public.orders]'),
        ['config.yaml: source.postgres.tables[0]: "users" is not schema.table; write it as public.users'],
      ],
      [
        'no tables',
        edit('tables: [public.users, public.orders]', 'tables: []'),
        ['config.yaml: source.postgres.tables: the list is empty; list at least one entry'],
      ],
      [
        'a rule for a table that is not captured',
        edit('  - table: public.orders', '  - table: public.invoices'),
        [
          'config.yaml: rules[1].table: public.invoices is not in source.postgres.tables; add it there, or remove this rule',
        ],
      ],
      [
        'two rules for one table',
        edit('  - table: public.orders', '  - table: public.users'),
        [
          'config.yaml: rules[1].table: public.users already has a rule (rules[0]); move these keys into that rule',
        ],
      ],
      [
        'a malformed key template',
        edit('key: "user:{id}"', 'key: "user:{id"'),
        [
          'config.yaml: rules[0].keys[0].key: key template "user:{id": "{" at column 6 is never closed; add "}" after the column name, or write \\{ for a literal brace',
        ],
      ],
      [
        'a zero ttl',
        edit('ttl: 3600', 'ttl: 0'),
        ['config.yaml: rules[0].keys[0].ttl: 0 is too small; use a whole number from 1 to 31536000'],
      ],
      [
        'a fractional ttl',
        edit('ttl: 3600', 'ttl: 1.5'),
        [
          'config.yaml: rules[0].keys[0].ttl: expected a whole number, got the number 1.5; write a whole number, such as 3600',
        ],
      ],
      [
        'a ttl on an evicted key',
        edit('store: memcached, action: evict', 'store: memcached, action: evict, ttl: 60'),
        [
          'config.yaml: rules[0].keys[1].ttl: a ttl applies only to action refresh, and this key is evicted; remove ttl or set action: refresh',
        ],
      ],
      [
        'a Memcached ttl Memcached would read as a date',
        edit('store: memcached, action: evict', 'store: memcached, action: refresh, ttl: 2678400'),
        [
          'config.yaml: rules[0].keys[1].ttl: 2678400 seconds is more than 30 days, which Memcached reads as a Unix time; use at most 2592000',
        ],
      ],
      [
        'a port out of range',
        `${VALID}services: { readApi: { port: 70000 } }\n`,
        ['config.yaml: services.readApi.port: 70000 is too big; use a whole number from 0 to 65535'],
      ],
      [
        'two services on one port',
        `${VALID}services: { readApi: { port: 9481 } }\n`,
        [
          'config.yaml: services.readApi.port: port 9481 is already used by services.cdcWorker; give each service its own port',
        ],
      ],
      [
        'a section given as a scalar',
        edit('kafka:\n  brokers: [127.0.0.1:19092]', 'kafka: 5'),
        ['config.yaml: kafka: expected a mapping of options, got the number 5; write a mapping of options'],
      ],
      [
        'a list given as a single value',
        edit('brokers: [127.0.0.1:19092]', 'brokers: 127.0.0.1:19092'),
        ['config.yaml: kafka.brokers: expected a list, got the text "127.0.0.1:19092"; write a list'],
      ],
      [
        'a table listed twice',
        edit('tables: [public.users, public.orders]', 'tables: [public.users, public.orders, public.users]'),
        [
          'config.yaml: source.postgres.tables[2]: public.users is listed twice (also at tables[0]); remove one',
        ],
      ],
      [
        'a search index with a bad name and no fields',
        `${VALID}search:\n  elasticsearch: { node: "http://127.0.0.1:19200" }\n  indexes: [{ table: public.users, index: Products, fields: [] }]\n`,
        [
          'config.yaml: search.indexes[0].index: "Products" is not a valid Elasticsearch index name; use lower-case letters, digits, ".", "_" and "-", starting with a letter or digit, such as products',
          'config.yaml: search.indexes[0].fields: the list is empty; list at least one entry',
        ],
      ],
      [
        'search indexes on a table not captured, twice under one name, with a field listed twice',
        `${VALID}search:\n  elasticsearch: { node: "http://127.0.0.1:19200" }\n  indexes:\n    - { table: public.products, index: products, fields: [name] }\n    - { table: public.users, index: products, fields: [name, email, name] }\n`,
        [
          'config.yaml: search.indexes[0].table: public.products is not in source.postgres.tables; add it there, or remove this index',
          'config.yaml: search.indexes[1].index: index products is already fed by search.indexes[0]; give this one another name',
          'config.yaml: search.indexes[1].fields[2]: name is listed twice (also at fields[0]); remove one',
        ],
      ],
      [
        'an unknown envelope and a misspelt option, both reported',
        `${VALID}envelope: debezum\nlog: { levle: debug }\n`,
        [
          'config.yaml: envelope: unknown envelope "debezum"; known: cdc, debezium',
          'config.yaml: log.levle: unknown option; did you mean level? (options under log: level)',
        ],
      ],
    ];
    for (const [name, text, problems] of cases) {
      it(name, () => {
        expect(problemsOf(text)).toEqual(problems);
      });
    }
  });

  it('accepts YAML anchors and merge keys', () => {
    const text = `${VALID}search:
  elasticsearch: { node: "http://127.0.0.1:19200" }
  indexes:
    - &users { table: public.users, index: users, fields: [name] }
    - { <<: *users, index: users-v2 }
`;
    expect(parseConfig(text).search?.indexes[1]).toEqual({
      table: 'public.users',
      index: 'users-v2',
      fields: ['name'],
    });
  });

  it('reports a YAML syntax error with line and column', () => {
    expect(problemsOf('source:\n  postgres: { url: "postgres://x\n')).toEqual([
      'config.yaml:3:1: YAML syntax error: Missing closing "quote; fix the YAML there',
    ]);
    expect(problemsOf('kafka:\n  partitions: 3\n  partitions: 4\n')).toEqual([
      'config.yaml:3:3: YAML syntax error: Map keys must be unique; fix the YAML there',
    ]);
    expect(problemsOf('kafka:\n\tpartitions: 3\n')[0]).toMatch(/^config\.yaml:2:1: YAML syntax error: /);
  });

  it('reports an empty file, a file of comments and a top level that is not a mapping', () => {
    const empty =
      'config.yaml: the file is empty; write the configuration (source, kafka, stores, rules, ...), starting from examples/cdc-cache.yaml';
    expect(problemsOf('')).toEqual([empty]);
    expect(problemsOf('# nothing yet\n')).toEqual([empty]);
    expect(problemsOf('- source\n- kafka\n')).toEqual([
      'config.yaml: the top level is a list of 2, not a mapping of options; write options such as source, kafka, stores, rules, ...',
    ]);
  });
});

describe('loadConfig', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cdc-cache-config-'));
  const file = join(dir, 'cdc-cache.yaml');
  writeFileSync(file, VALID);

  it('reads the file named by --config, or else by CDC_CACHE_CONFIG', () => {
    expect(loadConfig({ path: file, env: {} }).source.postgres.tables).toEqual([
      'public.users',
      'public.orders',
    ]);
    expect(loadConfig({ env: { CDC_CACHE_CONFIG: file } }).kafka.brokers).toEqual(['127.0.0.1:19092']);
  });

  it('names the flag or the variable that pointed to a missing file', () => {
    const missing = join(dir, 'nope.yaml');
    expect(() => loadConfig({ path: missing, env: {} })).toThrow(
      `${missing}: no such file (named by --config); check the path, or pass --config with the right file`,
    );
    expect(() => loadConfig({ env: { CDC_CACHE_CONFIG: missing } })).toThrow(
      `${missing}: no such file (named by CDC_CACHE_CONFIG); check the path, or set CDC_CACHE_CONFIG to the right file`,
    );
    expect(() => loadConfig({ path: dir, env: {} })).toThrow(
      `${dir}: is a directory, not a file (named by --config); check the path, or pass --config with the right file`,
    );
  });

  it('says how to name a file when none is named', () => {
    expect(() => loadConfig({ env: {} })).toThrow(
      'no configuration file: pass --config <file> or set CDC_CACHE_CONFIG (start from examples/cdc-cache.yaml)',
    );
  });

  it('names the file in every problem line', () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, VALID.replace('[127.0.0.1:19092]', '[localhost]'));
    expect(() => loadConfig({ path: bad, env: {} })).toThrow(
      `${bad}: kafka.brokers[0]: "localhost" is not host:port; write it as 127.0.0.1:9092`,
    );
  });
});

describe('configPathFromArgv', () => {
  it('reads --config <file>, --config=<file> and -c <file>', () => {
    expect(configPathFromArgv(['--config', 'a.yaml'])).toBe('a.yaml');
    expect(configPathFromArgv(['--verbose', '--config=b.yaml'])).toBe('b.yaml');
    expect(configPathFromArgv(['-c', 'c.yaml'])).toBe('c.yaml');
    expect(configPathFromArgv([])).toBeNull();
    expect(() => configPathFromArgv(['--config'])).toThrow('--config needs a file: pass --config <file>');
  });
});

describe('loadConfigOrExit', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('prints each problem on its own stderr line and exits with code 2', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cdc-cache-config-'));
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, `${VALID}envelope: debezum\nkafak: {}\n`);
    const written: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    vi.spyOn(process, 'exit').mockImplementation((code?: string | number | null) => {
      throw new Error(`exit ${code}`);
    });
    expect(() => loadConfigOrExit(['--config', bad], {})).toThrow('exit 2');
    expect(written).toEqual([
      `${bad}: envelope: unknown envelope "debezum"; known: cdc, debezium\n`,
      `${bad}: kafak: unknown option; did you mean kafka? (options under the top level: source, kafka, envelope, types, stores, rules, search, services, log)\n`,
    ]);
  });

  it('returns the configuration when it is valid', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cdc-cache-config-'));
    const good = join(dir, 'good.yaml');
    writeFileSync(good, VALID);
    expect(loadConfigOrExit([`--config=${good}`], {}).rules).toHaveLength(2);
  });
});
