import YAML from 'yaml';
import { z } from 'zod';
import { KEY_LIMITS } from '../key-template.js';
import { ENV_PREFIX, envVariableFor } from './env-overrides.js';
import { configSchema } from './schema.js';
import { MASK } from './secrets.js';

/**
 * docs/config.schema.json and docs/config.md, generated from the zod schema so they cannot
 * drift from it. `npm run schema` writes them (src/write-schema.ts); a test compares.
 */

type JsonSchema = {
  type?: string | string[];
  description?: string;
  default?: unknown;
  examples?: unknown[];
  enum?: unknown[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  additionalProperties?: boolean | JsonSchema;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  minLength?: number;
  pattern?: string;
  format?: string;
  title?: string;
};

export function configJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(configSchema, { io: 'input', target: 'draft-2020-12' }) as Record<string, unknown>;
}

export function renderConfigJsonSchema(): string {
  return `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
}

const INTRO = `# Configuration reference

<!-- Generated from packages/core/src/config/schema.ts by \`npm run schema\`: do not edit by hand. -->

Every cdc-cache service reads one YAML file, named by \`--config <file>\` or, when that flag is
absent, by the environment variable \`CDC_CACHE_CONFIG\`. Start from
[examples/cdc-cache.yaml](../examples/cdc-cache.yaml); editors that speak the YAML language
server protocol validate and complete it from [config.schema.json](config.schema.json).

The file is validated at start. A bad file stops the service with exit code 2 and one line per
problem, naming the file, the exact path and what to do:

\`\`\`
config.yaml: kafka.brokers[0]: "localhost" is not host:port; write it as 127.0.0.1:9092
config.yaml: rules[1].keys[0].store: unknown store "redis2"; known: redis, memcached
config.yaml: kafak: unknown option; did you mean kafka? (options under the top level: ...)
\`\`\`

Unknown options are errors (a typo never silently falls back to a default). Checks that span
fields run once every field is valid: a rule's table must be listed in
\`source.postgres.tables\`, its store configured under \`stores\`, one rule per table, \`ttl\`
only with \`action: refresh\` (and at most 30 days for Memcached), distinct service ports.

## Environment overrides

Every option can be set from the environment, which wins over the file:

\`\`\`sh
${ENV_PREFIX}SOURCE__POSTGRES__URL=postgres://cdc@db.internal:5432/app
${ENV_PREFIX}SOURCE__POSTGRES__PASSWORD=...          # secrets belong here, not in the file
${ENV_PREFIX}KAFKA__BROKERS=10.0.0.1:9092,10.0.0.2:9092
${ENV_PREFIX}RULES__0__KEYS__1__TTL=60
${ENV_PREFIX}SERVICES__READ_API__PORT=8080
\`\`\`

- The name is \`${ENV_PREFIX}\` and the option's path, with \`__\` (two underscores) between
  segments. Segments match options case-insensitively, ignoring \`_\`: camelCase options are
  written in UPPER_SNAKE (\`TOPIC_PREFIX\`) or just upper case (\`TOPICPREFIX\`).
- A numeric segment indexes a list (\`RULES__0\`); the index just past the last entry adds one.
- Options that take text (and choices such as \`action\`) get the value verbatim, so a password
  may hold \`#\`, \`:\` or quotes. Other options read the value as YAML: \`60\` is a number,
  \`true\` a boolean, \`[a, b]\` a list, \`{ type: keyword }\` a mapping. A list of text also
  takes comma-separated items.
- Shorter paths apply first: \`KAFKA__BROKERS=[...]\` then \`KAFKA__BROKERS__0=...\` edits the
  new list.
- A variable that names no option is an error naming the variable (\`${ENV_PREFIX}KAFKA__BROKERZ:
  kafka has no option BROKERZ; did you mean ${ENV_PREFIX}KAFKA__BROKERS?\`). A problem in an
  overridden value names its variable: \`config.yaml: kafka.partitions (from
  ${ENV_PREFIX}KAFKA__PARTITIONS): ...\`.

## Secrets

Keep passwords, tokens and API keys out of the file: set the \`password\`, \`apiKey\` options (or
the whole URL) from the environment. Secrets are never logged: services log
\`redactConfig(config)\`, which masks the password of every URL (\`postgres://u:${MASK}@h/db\`,
also \`?password=\` parameters) and every field named like a secret (password, secret, token,
apiKey, ...), and configure pino with \`PINO_REDACT\` (\`SECRET_LOG_PATHS\`) as a second line of
defence. Error messages about a URL show it with the password masked and never show the value of
a secret field.

## Keys

Key templates (\`rules[].keys[].key\`, \`search.indexes[].id\`) are literal text with
\`{column}\` placeholders. Column values are percent-encoded: every UTF-8 byte outside
\`A-Z a-z 0-9 - . _ ~\` becomes \`%XX\` (strict RFC 3986, upper-case hex), so \`user:{id}\`
with id \`7:orders\` is \`user:7%3Aorders\` and never another key's shape, and a key never holds
whitespace or control bytes. Literal text is printable ASCII without space, \`%\`, \`#\` or
\`@\`; \`\\{\`, \`\\}\` and \`\\\\\` write literal braces and backslash (Redis Cluster hash tags:
\`\\{{tenant}\\}:{id}\`). Two placeholders need a delimiter such as \`:\` between them. After a
TRUNCATE a table's keys carry its generation: \`<keyPrefix>g<N>@<key>\`; generation 0 keys are
plain. A key longer than the store's \`maxKeyBytes\` (Memcached ${KEY_LIMITS.memcached}, Redis ${KEY_LIMITS.redis} by default)
becomes \`<its first bytes>#<base64url SHA-256 of the whole key>\`; \`#\` and \`@\` occur in no
other key, so these forms never meet a plain key.

## Options
`;

interface Entry {
  path: string;
  envPath: Array<string | '<i>'>;
  schema: JsonSchema;
  required: boolean;
}

function collect(
  schema: JsonSchema,
  path: string,
  envPath: Array<string | '<i>'>,
  required: boolean,
  out: Entry[],
) {
  if (path !== '') out.push({ path, envPath, schema, required });
  const fields = schema.properties ? schema : schema.items?.properties ? schema.items : undefined;
  if (fields?.properties === undefined) return;
  const prefix = fields === schema ? path : `${path}[]`;
  const envPrefix: Array<string | '<i>'> = fields === schema ? envPath : [...envPath, '<i>'];
  const requiredNames = new Set(fields.required ?? []);
  for (const [name, child] of Object.entries(fields.properties)) {
    collect(
      child,
      prefix === '' ? name : `${prefix}.${name}`,
      [...envPrefix, name],
      requiredNames.has(name),
      out,
    );
  }
}

function typeOf(schema: JsonSchema): string {
  if (schema.enum) return `one of ${schema.enum.map((value) => `\`${String(value)}\``).join(', ')}`;
  const type = Array.isArray(schema.type) ? schema.type.join(' or ') : schema.type;
  switch (type) {
    case 'string': {
      if (schema.format === 'uri') return 'URL';
      return 'text';
    }
    case 'integer':
    case 'number': {
      const kind = type === 'integer' ? 'whole number' : 'number';
      const bounded = (n: number | undefined): n is number =>
        n !== undefined && Math.abs(n) < Number.MAX_SAFE_INTEGER;
      if (bounded(schema.minimum) && bounded(schema.maximum))
        return `${kind}, ${schema.minimum} to ${schema.maximum}`;
      if (bounded(schema.minimum)) return `${kind}, at least ${schema.minimum}`;
      return kind;
    }
    case 'boolean':
      return '`true` or `false`';
    case 'array': {
      const items = schema.items;
      const of = items === undefined ? 'values' : items.properties ? 'entries (below)' : typeOf(items);
      const min = schema.minItems ? `, at least ${schema.minItems}` : '';
      return `list of ${of}${min}`;
    }
    case 'object':
      return schema.properties ? 'section' : 'mapping';
    default:
      return type ?? 'any';
  }
}

/** A value as YAML flow, as it would be written in the file: `[public.users, public.orders]`. */
function inlineCode(value: unknown): string {
  const text = typeof value === 'string' ? value : YAML.stringify(value, { collectionStyle: 'flow' }).trim();
  return `\`${text}\``;
}

function renderEntry(entry: Entry): string {
  const { schema } = entry;
  const lines = [`### \`${entry.path}\``, ''];
  if (schema.description) lines.push(schema.description, '');
  const facts = [`- Type: ${typeOf(schema)}`];
  const isSection = schema.type === 'object' && schema.properties !== undefined;
  if (!isSection) {
    if (schema.default !== undefined) facts.push(`- Default: ${inlineCode(schema.default)}`);
    else facts.push(entry.required ? '- Required' : '- Optional');
    if (schema.examples?.[0] !== undefined) facts.push(`- Example: ${inlineCode(schema.examples[0])}`);
    if (schema.type === 'string' && schema.pattern) facts.push(`- Pattern: \`${schema.pattern}\``);
    facts.push(`- Environment: \`${envVariableFor(entry.envPath)}\``);
  } else {
    facts.push(entry.required && schema.default === undefined ? '- Required' : '- Optional');
  }
  lines.push(...facts, '');
  return lines.join('\n');
}

export function renderConfigMarkdown(): string {
  const schema = configJsonSchema() as JsonSchema;
  const entries: Entry[] = [];
  collect(schema, '', [], true, entries);
  return `${INTRO}\n${entries.map(renderEntry).join('\n')}`;
}
