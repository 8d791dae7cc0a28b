import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from './load.js';
import { isSecretName, maskSecretsInText, PINO_REDACT, redactConfig, SECRET_LOG_PATHS } from './secrets.js';

const FILE = `
source:
  postgres:
    url: postgres://cdc@127.0.0.1:15432/app
    tables: [public.users]
stores:
  redis: { url: "redis://127.0.0.1:16379" }
search:
  elasticsearch: { node: "http://127.0.0.1:19200" }
`;

const PG_PASSWORD = 'Pg-S3cr3t#pass';
const REDIS_PASSWORD = 'R3dis-S3cr3t';
const KAFKA_PASSWORD = 'K4fka-S3cr3t';
const ES_API_KEY = 'ES-ApiKey-S3cr3t';
const SECRETS = [PG_PASSWORD, REDIS_PASSWORD, KAFKA_PASSWORD, ES_API_KEY, 'S3cr3t', '4815162342'];

const ENV = {
  CDC_CACHE__SOURCE__POSTGRES__URL: `postgres://cdc:${encodeURIComponent(PG_PASSWORD)}@127.0.0.1:15432/app`,
  CDC_CACHE__SOURCE__POSTGRES__PASSWORD: PG_PASSWORD,
  CDC_CACHE__STORES__REDIS__URL: `redis://:${REDIS_PASSWORD}@127.0.0.1:16379`,
  CDC_CACHE__STORES__REDIS__PASSWORD: REDIS_PASSWORD,
  CDC_CACHE__KAFKA__SASL__MECHANISM: 'scram-sha-512',
  CDC_CACHE__KAFKA__SASL__USERNAME: 'cdc',
  CDC_CACHE__KAFKA__SASL__PASSWORD: KAFKA_PASSWORD,
  CDC_CACHE__SEARCH__ELASTICSEARCH__API_KEY: ES_API_KEY,
};

/** A real pino logger writing into memory. */
function memoryLogger(options: pino.LoggerOptions = {}): { logger: pino.Logger; output: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString('utf8'));
      done();
    },
  });
  const logger = pino(options, stream);
  return { logger, output: () => chunks.join('') };
}

function expectNoSecret(text: string): void {
  for (const secret of SECRETS) {
    expect(text).not.toContain(secret);
    expect(text).not.toContain(encodeURIComponent(secret));
  }
}

describe('secrets', () => {
  it('load from the environment and are masked by redactConfig', () => {
    const config = parseConfig(FILE, { env: ENV });
    expect(config.source.postgres.password).toBe(PG_PASSWORD);
    expect(config.stores.redis?.password).toBe(REDIS_PASSWORD);
    const redacted = redactConfig(config);
    expect(redacted.source.postgres.url).toBe('postgres://cdc:***@127.0.0.1:15432/app');
    expect(redacted.source.postgres.password).toBe('***');
    expect(redacted.stores.redis?.url).toBe('redis://:***@127.0.0.1:16379');
    expect(redacted.kafka.sasl).toEqual({ mechanism: 'scram-sha-512', username: 'cdc', password: '***' });
    expect(redacted.search?.elasticsearch.apiKey).toBe('***');
    // everything else is untouched, and the original is not modified
    expect(redacted.source.postgres.tables).toEqual(['public.users']);
    expect(config.source.postgres.password).toBe(PG_PASSWORD);
    expectNoSecret(JSON.stringify(redacted));
  });

  it('never reach a pino log: a redacted config logged through a real logger', () => {
    const config = parseConfig(FILE, { env: ENV });
    const { logger, output } = memoryLogger();
    logger.info({ config: redactConfig(config) }, 'configuration loaded');
    const log = output();
    expect(log).toContain('configuration loaded');
    expect(log).toContain('postgres://cdc:***@127.0.0.1:15432/app');
    expectNoSecret(log);
  });

  it('never reach a pino log even unredacted, with PINO_REDACT configured', () => {
    const config = parseConfig(FILE, { env: ENV });
    const { logger, output } = memoryLogger({ redact: PINO_REDACT });
    logger.info({ config }, 'configuration loaded');
    logger.info({ postgres: config.source.postgres }, 'connecting');
    logger.info({ connection: { host: 'h', password: PG_PASSWORD, nested: { token: ES_API_KEY } } }, 'deep');
    logger.info({ redis: { url: config.stores.redis?.url, node: { name: 'n1' } } }, 'other');
    const log = output();
    expect(log).toContain('"url":"postgres://cdc:***@127.0.0.1:15432/app"');
    expect(log).toContain('"password":"***"');
    expect(log).toContain('"url":"redis://:***@127.0.0.1:16379"');
    expect(log).toContain('"node":{"name":"n1"}');
    expectNoSecret(log);
  });

  it('never appear in error messages', () => {
    let problems: readonly string[] = [];
    try {
      parseConfig(FILE, {
        env: {
          CDC_CACHE__SOURCE__POSTGRES__URL: `postgresql:/cdc:${PG_PASSWORD}@127.0.0.1/app`,
          CDC_CACHE__STORES__REDIS__URL: `http://cdc:${REDIS_PASSWORD}@127.0.0.1:6379`,
          // a number where text belongs: the message names the type, not the value
          CDC_CACHE__KAFKA__SASL: '{ mechanism: plain, username: x, password: 4815162342 }',
        },
      });
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      problems = error.problems;
    }
    expect(problems).toEqual([
      'config.yaml: source.postgres.url (from CDC_CACHE__SOURCE__POSTGRES__URL): "***@127.0.0.1/app" names no host; write it as postgres://cdc_cache@127.0.0.1:5432/app',
      'config.yaml: kafka.sasl.password (from CDC_CACHE__KAFKA__SASL): expected text, got a number (***); write text',
      'config.yaml: stores.redis.url (from CDC_CACHE__STORES__REDIS__URL): "http://cdc:***@127.0.0.1:6379" is not a Redis URL (it starts with http://); write it as redis://127.0.0.1:6379',
    ]);
    expectNoSecret(problems.join('\n'));
  });

  it('are recognised by field name and inside URLs and query strings', () => {
    for (const name of [
      'password',
      'PASSWORD',
      'sslPassword',
      'secret',
      'clientSecret',
      'token',
      'apiKey',
      'api_key',
    ]) {
      expect(isSecretName(name)).toBe(true);
    }
    for (const name of ['url', 'username', 'tokens_count', 'keyPrefix', 'key'])
      expect(isSecretName(name)).toBe(false);
    expect(maskSecretsInText('postgres://u:p@h:5432/db')).toBe('postgres://u:***@h:5432/db');
    expect(maskSecretsInText('postgres://u:p@ss/w@rd@h/db')).toBe('postgres://u:***@h/db');
    expect(maskSecretsInText('postgres://u@h/db?sslmode=require&password=x')).toBe(
      'postgres://u@h/db?sslmode=require&password=***',
    );
    expect(maskSecretsInText('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
    expect(maskSecretsInText('connect to redis://:pw@h:1 failed')).toBe('connect to redis://:***@h:1 failed');
  });

  it('have pino redact paths for secret fields and config URLs', () => {
    expect(SECRET_LOG_PATHS).toContain('password');
    expect(SECRET_LOG_PATHS).toContain('*.*.apiKey');
    expect(SECRET_LOG_PATHS).toContain('config.source.postgres.url');
  });
});
