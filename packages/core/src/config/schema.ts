import { z } from 'zod';
import {
  compileKeyTemplate,
  KEY_LIMITS,
  KeyTemplateError,
  MAX_KEY_BYTES,
  MIN_KEY_BYTES,
} from '../key-template.js';
import { MASK, maskSecretsInText } from './secrets.js';

/**
 * The configuration schema: one YAML file, validated at start. Every field has a description
 * (docs/config.md and docs/config.schema.json are generated from it by `npm run schema`).
 *
 * Leaf checks that need the value in their message (URLs, host:port, table names, key
 * templates) write `<what is wrong>; <what to do>` themselves; generic problems (unknown
 * options, wrong types, enums, ranges) are worded by ./problems.ts. Checks that span several
 * fields (a rule's store must be configured, its table listed, ...) are in ./cross-checks.ts.
 */

const quote = (value: string): string => JSON.stringify(maskSecretsInText(value));

function checked(base: z.ZodString, check: (value: string) => string | null): z.ZodString {
  return base.superRefine((value, ctx) => {
    const problem = check(value);
    if (problem !== null) ctx.addIssue({ code: 'custom', message: problem, input: value });
  });
}

// ---------------------------------------------------------------------------------------------
// Leaf types

const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)$/;
const HOST_PORT = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):[0-9]{1,5}$/;

function hostPort(defaultPort: number): z.ZodString {
  return checked(z.string(), (value) => {
    const example = (host: string): string => `${host === 'localhost' ? '127.0.0.1' : host}:${defaultPort}`;
    if (HOST.test(value)) return `${quote(value)} is not host:port; write it as ${example(value)}`;
    if (!HOST_PORT.test(value)) {
      return `${quote(value)} is not host:port; write it as 127.0.0.1:${defaultPort}`;
    }
    const port = Number(value.slice(value.lastIndexOf(':') + 1));
    if (port < 1 || port > 65535) {
      return `port ${port} in ${quote(value)} is out of range; use a port from 1 to 65535`;
    }
    return null;
  }).meta({ pattern: HOST_PORT.source });
}

/** A URL for a message: masked password; when it does not parse, nothing before its last "@". */
function quoteUrl(value: string): string {
  const at = value.lastIndexOf('@');
  return at === -1
    ? quote(value)
    : JSON.stringify(
        maskSecretsInText(value).includes(`:${MASK}@`)
          ? maskSecretsInText(value)
          : `${MASK}${value.slice(at)}`,
      );
}

function url(protocols: readonly string[], kind: string, example: string): z.ZodString {
  return checked(z.string(), (value) => {
    const quote = quoteUrl;
    let parsed: URL;
    try {
      parsed = new URL(value);
    } catch {
      return `${quote(value)} is not a URL; write it as ${example}`;
    }
    if (!protocols.includes(parsed.protocol)) {
      return `${quote(value)} is not a ${kind} URL (it starts with ${parsed.protocol}//); write it as ${example}`;
    }
    if (parsed.hostname === '') return `${quote(value)} names no host; write it as ${example}`;
    return null;
  }).meta({ format: 'uri' });
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_$]{0,62}$/;
const TABLE = /^[A-Za-z_][A-Za-z0-9_$]{0,62}\.[A-Za-z_][A-Za-z0-9_$]{0,62}$/;

const tableName = checked(z.string(), (value) => {
  if (TABLE.test(value)) return null;
  if (IDENTIFIER.test(value)) return `${quote(value)} is not schema.table; write it as public.${value}`;
  return `${quote(value)} is not schema.table; write it as the table's schema and name, such as public.users`;
}).meta({ pattern: TABLE.source });

const SLOT = /^[a-z0-9_]{1,63}$/;
const slotName = checked(z.string(), (value) =>
  SLOT.test(value)
    ? null
    : `${quote(value)} is not a valid replication slot name; use at most 63 lower-case letters, digits and _, such as cdc_cache`,
).meta({ pattern: SLOT.source });

const PUBLICATION = /^[a-z_][a-z0-9_$]{0,62}$/;
const publicationName = checked(z.string(), (value) =>
  PUBLICATION.test(value)
    ? null
    : `${quote(value)} is not a valid publication name; use at most 63 lower-case letters, digits and _, such as cdc_cache`,
).meta({ pattern: PUBLICATION.source });

const TOPIC_PREFIX = /^[A-Za-z0-9._-]{1,200}$/;
const topicPrefix = checked(z.string(), (value) =>
  TOPIC_PREFIX.test(value)
    ? null
    : `${quote(value)} cannot start a Kafka topic name; use letters, digits, ".", "_" and "-" (at most 200), such as cdc`,
).meta({ pattern: TOPIC_PREFIX.source });

const INDEX = /^[a-z0-9][a-z0-9._-]{0,254}$/;
const indexName = checked(z.string(), (value) =>
  INDEX.test(value)
    ? null
    : `${quote(value)} is not a valid Elasticsearch index name; use lower-case letters, digits, ".", "_" and "-", starting with a letter or digit, such as products`,
).meta({ pattern: INDEX.source });

const columnName = checked(z.string(), (value) =>
  value.length > 0 && value.length <= 63
    ? null
    : `${quote(value)} is not a column name; write the column as PostgreSQL names it`,
);

function keyTemplate(maxKeyBytes: number = KEY_LIMITS.redis): z.ZodString {
  return checked(z.string(), (value) => {
    try {
      compileKeyTemplate(value, { store: 'redis', maxKeyBytes });
      return null;
    } catch (error) {
      if (error instanceof KeyTemplateError) return error.message;
      throw error;
    }
  });
}

const keyPrefix = checked(z.string(), (value) => {
  try {
    compileKeyTemplate('k', { store: 'memcached', keyPrefix: value });
    return null;
  } catch (error) {
    if (error instanceof KeyTemplateError) return `key prefix ${quote(value)}: ${error.problem}`;
    throw error;
  }
});

const hostName = checked(z.string(), (value) =>
  HOST.test(value)
    ? null
    : `${quote(value)} is not a host name or IP address; write one such as 127.0.0.1 or 0.0.0.0`,
);

const secret = (description: string) =>
  z
    .string()
    .min(1)
    .optional()
    .meta({ description: `${description} A secret: set it from the environment, never in the file.` });

// ---------------------------------------------------------------------------------------------
// Sections

const snapshotSchema = z
  .strictObject({
    mode: z.enum(['initial', 'never']).default('initial').meta({
      description:
        'initial: when the replication slot is created, read every table once (events with op "r") before streaming changes; never: stream changes only.',
    }),
    batchSize: z
      .int()
      .min(1)
      .max(1_000_000)
      .default(10_000)
      .meta({ description: 'Rows read per query while snapshotting a table.' }),
  })
  .prefault({})
  .meta({ description: 'The initial snapshot of the tables.' });

const postgresSchema = z
  .strictObject({
    url: url(['postgres:', 'postgresql:'], 'PostgreSQL', 'postgres://cdc_cache@127.0.0.1:5432/app').meta({
      description:
        'Connection URL of the source database; the user needs the REPLICATION attribute. Keep the password out of the file (see `password`).',
      examples: ['postgres://cdc_cache@127.0.0.1:5432/app'],
    }),
    password: secret("Password of the URL's user; overrides a password in `url`."),
    slot: slotName
      .default('cdc_cache')
      .meta({ description: 'Logical replication slot (pgoutput) the cdc-worker creates and reads.' }),
    publication: publicationName
      .default('cdc_cache')
      .meta({ description: 'Publication that lists the tables; created if missing.' }),
    tables: z
      .array(tableName.meta({ description: 'A table, as schema.table.', examples: ['public.users'] }))
      .min(1)
      .meta({
        description: 'Tables to capture, each as schema.table. Rules and search indexes may only name these.',
        examples: [['public.users', 'public.orders']],
      }),
    heartbeatIntervalMs: z.int().min(100).max(3_600_000).default(10_000).meta({
      description: 'How often the worker writes a heartbeat so an idle slot still advances, in ms.',
    }),
    keyColumns: z
      .record(tableName, z.array(columnName).min(1))
      .default({})
      .meta({
        description:
          'Key columns for tables without a primary key (schema.table -> columns). Events of such a table are keyed by these columns; they must identify a row.',
        examples: [{ 'public.events': ['tenant_id', 'event_id'] }],
      }),
    snapshot: snapshotSchema,
  })
  .meta({ description: 'The PostgreSQL database whose changes are captured.' });

const sourceSchema = z
  .strictObject({ postgres: postgresSchema })
  .meta({ description: 'Where changes come from.' });

const saslSchema = z
  .strictObject({
    mechanism: z
      .enum(['plain', 'scram-sha-256', 'scram-sha-512'])
      .meta({ description: 'SASL mechanism.', examples: ['scram-sha-512'] }),
    username: z
      .string()
      .min(1)
      .meta({ description: 'SASL user name.', examples: ['cdc_cache'] }),
    password: secret('SASL password.'),
  })
  .optional()
  .meta({ description: 'SASL authentication; absent means none.' });

const kafkaSchema = z
  .strictObject({
    brokers: z
      .array(hostPort(9092).meta({ description: 'A broker, as host:port.', examples: ['127.0.0.1:9092'] }))
      .min(1)
      .default(['127.0.0.1:9092'])
      .meta({ description: 'Bootstrap brokers, each as host:port.' }),
    topicPrefix: topicPrefix
      .default('cdc')
      .meta({ description: 'Topics are named `<topicPrefix>.<schema>.<table>`.' }),
    partitions: z.int().min(1).max(10_000).default(6).meta({
      description: 'Partitions of each topic the worker creates (existing topics are left as they are).',
    }),
    replicationFactor: z
      .int()
      .min(1)
      .max(32)
      .default(1)
      .meta({ description: 'Replication factor of the topics the worker creates; use 3 in production.' }),
    clientId: z
      .string()
      .min(1)
      .default('cdc-cache')
      .meta({ description: 'Kafka client id, seen in broker logs and quotas.' }),
    ssl: z.boolean().default(false).meta({ description: 'Connect to the brokers over TLS.' }),
    sasl: saslSchema,
  })
  .prefault({})
  .meta({ description: 'The Kafka cluster the events go through.' });

const redisSchema = z
  .strictObject({
    url: url(['redis:', 'rediss:'], 'Redis', 'redis://127.0.0.1:6379').meta({
      description: 'Redis URL (rediss:// for TLS). Keep the password out of the file (see `password`).',
      examples: ['redis://127.0.0.1:6379'],
    }),
    password: secret('Redis password (AUTH); overrides a password in `url`.'),
    keyPrefix: keyPrefix.default('').meta({
      description: 'Literal text put before every key in this store (printable ASCII, no space, %, # or @).',
    }),
    maxKeyBytes: z.int().min(MIN_KEY_BYTES).max(MAX_KEY_BYTES.redis).default(KEY_LIMITS.redis).meta({
      description: 'Longer keys are replaced by a prefix and a SHA-256 (see docs/config.md, Keys).',
    }),
    cluster: z.boolean().default(false).meta({
      description:
        'Redis Cluster: `url` names one node, the others are discovered. Every cache operation touches one key, so no script crosses slots; use a hash tag such as `\\{{tenant}\\}:{id}` only to keep keys together.',
    }),
    fenceTtl: z
      .int()
      .min(1)
      .max(30 * 24 * 3600)
      .default(86_400)
      .meta({
        description:
          'How long the version of an evicted key (its tombstone) is kept, in seconds: an older change arriving later than this (a retry, a replay) is applied as an evict, never as a refresh.',
      }),
  })
  .optional()
  .meta({ description: 'A Redis server (or cluster entry point) rules can write to as store: redis.' });

const memcachedSchema = z
  .strictObject({
    servers: z
      .array(hostPort(11211).meta({ description: 'A server, as host:port.', examples: ['127.0.0.1:11211'] }))
      .min(1)
      .meta({
        description: 'Memcached servers, each as host:port; keys are spread over them.',
        examples: [['127.0.0.1:11211']],
      }),
    keyPrefix: keyPrefix.default('').meta({
      description: 'Literal text put before every key in this store (printable ASCII, no space, %, # or @).',
    }),
    maxKeyBytes: z.int().min(MIN_KEY_BYTES).max(MAX_KEY_BYTES.memcached).default(KEY_LIMITS.memcached).meta({
      description: "Longer keys are replaced by a prefix and a SHA-256; Memcached's own limit is 250.",
    }),
    fenceTtl: z
      .int()
      .min(1)
      .max(30 * 24 * 3600)
      .default(86_400)
      .meta({
        description:
          'How long the version of an evicted key (its tombstone) is kept, in seconds: an older change arriving later than this (a retry, a replay) is applied as an evict, never as a refresh.',
      }),
  })
  .optional()
  .meta({ description: 'Memcached servers rules can write to as store: memcached.' });

const storesSchema = z
  .strictObject({ redis: redisSchema, memcached: memcachedSchema })
  .prefault({})
  .meta({ description: 'The caches. A rule can only use a store configured here.' });

export const STORE_NAMES = ['redis', 'memcached'] as const;

const keyRuleSchema = z
  .strictObject({
    key: keyTemplate().meta({
      description:
        'Key template: literal text with `{column}` placeholders, such as `user:{id}` or `user:email:{email}`; write `\\{`, `\\}` and `\\\\` for a literal brace or backslash (docs/config.md, Keys).',
      examples: ['user:{id}'],
    }),
    store: z
      .enum(STORE_NAMES)
      .meta({ description: 'Which configured store holds the key.', examples: ['redis'] }),
    action: z.enum(['refresh', 'evict']).default('evict').meta({
      description:
        "evict: delete the key on every change; refresh: write the row's new value (and delete it on delete).",
    }),
    ttl: z
      .int()
      .min(1)
      .max(365 * 24 * 3600)
      .optional()
      .meta({
        description: 'Expiry of refreshed values, in seconds (refresh only); absent means no expiry.',
        examples: [3600],
      }),
  })
  .meta({ description: 'One cache key derived from a row.' });

const ruleSchema = z
  .strictObject({
    table: tableName.meta({
      description: 'The table, as schema.table; must be listed in source.postgres.tables.',
      examples: ['public.users'],
    }),
    keys: z.array(keyRuleSchema).min(1).meta({
      description: 'The keys derived from each row; deletes evict them all, computed from the old row.',
    }),
  })
  .meta({ description: 'Cache keys to keep in step with one table.' });

const searchIndexSchema = z
  .strictObject({
    table: tableName.meta({
      description: 'The table, as schema.table; must be listed in source.postgres.tables.',
      examples: ['public.products'],
    }),
    index: indexName.meta({ description: 'Elasticsearch index name.', examples: ['products'] }),
    fields: z
      .array(columnName.meta({ description: 'A column.', examples: ['name'] }))
      .min(1)
      .meta({
        description: 'Columns copied into each document.',
        examples: [['name', 'description', 'price']],
      }),
    id: keyTemplate(512)
      .optional()
      .meta({
        description:
          'Document id as a key template, such as `{tenant}:{id}`; absent means the canonical JSON of the primary key.',
        examples: ['{id}'],
      }),
    mappings: z
      .record(z.string(), z.unknown())
      .optional()
      .meta({
        description: 'Elasticsearch mapping properties for the fields (used when the index is created).',
        examples: [{ price: { type: 'double' } }],
      }),
  })
  .meta({ description: 'One Elasticsearch index fed from one table.' });

const searchSchema = z
  .strictObject({
    elasticsearch: z
      .strictObject({
        node: url(['http:', 'https:'], 'Elasticsearch', 'http://127.0.0.1:9200').meta({
          description: 'Elasticsearch URL.',
          examples: ['http://127.0.0.1:9200'],
        }),
        username: z.string().min(1).optional().meta({ description: 'User for basic authentication.' }),
        password: secret('Password for basic authentication.'),
        apiKey: secret('API key (instead of user and password).'),
      })
      .meta({ description: 'The Elasticsearch cluster.' }),
    indexes: z
      .array(searchIndexSchema)
      .default([])
      .meta({ description: 'Indexes the search-indexer keeps in step.' }),
  })
  .optional()
  .meta({ description: 'Full-text search: absent means no search-indexer.' });

const readRouteSchema = z
  .strictObject({
    path: checked(z.string(), (value) =>
      /^\/[A-Za-z0-9._~/{}-]*$/.test(value) && /\{[^{}/]+\}/.test(value)
        ? null
        : `${quote(value)} is not a route; write a path with {column} placeholders, such as /v1/users/{id}`,
    ).meta({
      description:
        'Path with `{column}` placeholders, each a whole path segment, such as `/v1/users/{id}`; the row is looked up by these columns.',
      examples: ['/v1/users/{id}'],
    }),
    table: tableName.meta({
      description: 'The table, as schema.table; must have a rule.',
      examples: ['public.users'],
    }),
    key: z.string().meta({
      description: "One of the table's rule keys, as written there; its columns must be the path's columns.",
      examples: ['user:{id}'],
    }),
    store: z.enum(STORE_NAMES).meta({ description: 'The store of that rule key.', examples: ['redis'] }),
  })
  .meta({ description: 'One read-api route: a path, the row it reads, the cache key it fills.' });

function service(defaultPort: number, what: string) {
  return {
    host: hostName
      .default('127.0.0.1')
      .meta({ description: `Address the ${what} HTTP server listens on; 0.0.0.0 for all interfaces.` }),
    port: z
      .int()
      .min(0)
      .max(65535)
      .default(defaultPort)
      .meta({ description: `Port of the ${what} HTTP server; 0 picks a free port (the log says which).` }),
  };
}

const servicesSchema = z
  .strictObject({
    cdcWorker: z
      .strictObject(service(9481, 'cdc-worker /metrics, /healthz and /readyz'))
      .prefault({})
      .meta({ description: 'The cdc-worker (PostgreSQL to Kafka).' }),
    cacheInvalidator: z
      .strictObject({
        ...service(9482, 'cache-invalidator /metrics, /healthz and /readyz'),
        groupId: z
          .string()
          .min(1)
          .default('cdc-cache-invalidator')
          .meta({ description: 'Kafka consumer group of the cache-invalidators.' }),
        sessionTimeoutMs: z.int().min(6_000).max(300_000).default(30_000).meta({
          description:
            'Kafka group session timeout, in ms: how long the group waits for a member that stopped answering (a crashed invalidator) before its partitions move.',
        }),
        concurrency: z.int().min(1).max(10_000).default(256).meta({
          description:
            'Cache operations in flight at once per process (different keys run concurrently; one key stays in order).',
        }),
        retry: z
          .strictObject({
            attempts: z.int().min(1).max(100).default(8).meta({
              description:
                'Attempts of a failed cache operation (the first included) before it becomes a dead letter; a store that is down does not use them up.',
            }),
            backoffMs: z.int().min(10).max(3_600_000).default(1000).meta({
              description: 'Delay before the first retry, in ms; doubled for each further attempt.',
            }),
          })
          .prefault({})
          .meta({ description: 'The retry queue (BullMQ, on the Redis of stores.redis).' }),
      })
      .prefault({})
      .meta({ description: 'The cache-invalidator (Kafka to Redis and Memcached).' }),
    searchIndexer: z
      .strictObject({
        ...service(9483, 'search-indexer /metrics, /healthz and /readyz'),
        groupId: z
          .string()
          .min(1)
          .default('cdc-cache-search-indexer')
          .meta({ description: 'Kafka consumer group of the search-indexers.' }),
        bulkActions: z
          .int()
          .min(1)
          .max(100_000)
          .default(1000)
          .meta({ description: 'Most document writes in one Elasticsearch bulk request.' }),
        flushIntervalMs: z
          .int()
          .min(0)
          .max(60_000)
          .default(20)
          .meta({ description: 'Longest a change waits for a fuller bulk request, in ms.' }),
        maxAttempts: z.int().min(1).max(100).default(5).meta({
          description:
            'Attempts of a document write Elasticsearch refuses before it goes to the dead-letter topic <topicPrefix>.dlq.search-indexer; 429 and an unreachable cluster do not use them up.',
        }),
      })
      .prefault({})
      .meta({ description: 'The search-indexer (Kafka to Elasticsearch).' }),
    readApi: z
      .strictObject({
        ...service(9484, 'read-api (read-through API, /metrics, /healthz, /readyz)'),
        routes: z.array(readRouteSchema).default([]).meta({
          description:
            'GET routes the read-api serves; empty means one per rule: `/v1/<table>/{<columns of its first key>}` for the first key of each rule.',
        }),
        leaseTtlMs: z.int().min(100).max(60_000).default(5_000).meta({
          description:
            'How long a reader may hold the lease on a missing key while it reads PostgreSQL, in ms.',
        }),
        leaseWaitMs: z.int().min(0).max(10_000).default(500).meta({
          description:
            'How long other readers of a missing key wait for the leaseholder to fill it before reading PostgreSQL themselves (without storing), in ms.',
        }),
        fillTtl: z
          .int()
          .min(1)
          .max(30 * 24 * 3600)
          .default(3600)
          .meta({ description: 'Expiry of values the read-api stores on a miss, in seconds.' }),
      })
      .prefault({})
      .meta({ description: 'The read-api NGINX sends cache misses to.' }),
  })
  .prefault({})
  .meta({ description: 'HTTP listeners of the services (metrics, health, the read-api itself).' });

export const configSchema = z
  .strictObject({
    source: sourceSchema,
    kafka: kafkaSchema,
    envelope: z.enum(['cdc', 'debezium']).default('cdc').meta({
      description: 'Event format on Kafka: cdc (docs/events.md) or a Debezium-compatible envelope.',
    }),
    types: z.enum(['text', 'parsed']).default('text').meta({
      description:
        "Column values in events: text (pg's text output) or parsed (numbers, booleans, JSON; bigint and numeric stay strings).",
    }),
    stores: storesSchema,
    rules: z.array(ruleSchema).default([]).meta({
      description: 'Which cache keys each table change evicts or refreshes; at most one rule per table.',
    }),
    search: searchSchema,
    services: servicesSchema,
    log: z
      .strictObject({
        level: z
          .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace'])
          .default('info')
          .meta({ description: 'Lowest level written to the JSON log.' }),
      })
      .prefault({})
      .meta({ description: 'Structured (JSON) logs of every service.' }),
  })
  .meta({
    title: 'cdc-cache configuration',
    description:
      'One YAML file for every cdc-cache service; every value can be overridden from the environment.',
  });

/** The validated configuration, defaults filled in. */
export type Config = z.output<typeof configSchema>;
/** What a configuration file may contain (defaults optional). */
export type ConfigInput = z.input<typeof configSchema>;
export type PostgresSourceConfig = Config['source']['postgres'];
export type KafkaConfig = Config['kafka'];
export type StoresConfig = Config['stores'];
export type StoreName = (typeof STORE_NAMES)[number];
export type RuleConfig = Config['rules'][number];
export type KeyRuleConfig = RuleConfig['keys'][number];
export type SearchConfig = NonNullable<Config['search']>;
export type SearchIndexConfig = SearchConfig['indexes'][number];
export type ServicesConfig = Config['services'];
