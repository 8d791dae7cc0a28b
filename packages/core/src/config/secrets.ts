/**
 * Secrets never reach a log: passwords inside URLs are masked (`postgres://u:***@h/db`) and
 * fields named like secrets (password, secret, token, apiKey, ...) are replaced by `***`.
 * Services log `redactConfig(config)`, and give pino `PINO_REDACT` as a second line of defence.
 */

export const MASK = '***';

const SECRET_NAME = /(?:password|passwd|secret|token|apikey|privatekey|credentials?)$/;

/** Whether a field of this name holds a secret (compares case-insensitively, ignoring _ and -). */
export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name.toLowerCase().replace(/[_-]/g, ''));
}

const URL_WITH_CREDENTIALS = /([A-Za-z][A-Za-z0-9+.-]*:\/\/)([^\s:/?#@]*):(\S*)@/g;
const SECRET_QUERY_PARAM = /([?&](?:[A-Za-z_]*password|secret|token|api_?key|access_?key)=)[^&#\s]*/gi;

/**
 * Masks the password of every URL in a text (up to the last "@" of the URL, so a password
 * holding an unencoded "@" or "/" is masked whole) and secret query parameters (`?password=`).
 */
export function maskSecretsInText(text: string): string {
  if (!text.includes('://') && !text.includes('=')) return text;
  return text
    .replace(URL_WITH_CREDENTIALS, (_match, scheme: string, user: string) => `${scheme}${user}:${MASK}@`)
    .replace(SECRET_QUERY_PARAM, (_match, name: string) => `${name}${MASK}`);
}

/** A deep copy of a configuration (or any plain data) with every secret masked. */
export function redactConfig<T>(config: T): T {
  return redactValue(config, null) as T;
}

function redactValue(value: unknown, name: string | null): unknown {
  if (name !== null && isSecretName(name) && value !== undefined && value !== null) return MASK;
  if (typeof value === 'string') return maskSecretsInText(value);
  if (Array.isArray(value)) return value.map((item) => redactValue(item, null));
  if (value !== null && typeof value === 'object') {
    const copy: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) copy[key] = redactValue(item, key);
    return copy;
  }
  return value;
}

/** Fields pino censors wherever they are (down to five levels): secrets, and URLs that may carry one. */
const LOGGED_FIELDS = [
  'password',
  'passwd',
  'secret',
  'token',
  'apiKey',
  'privateKey',
  'connectionString',
  'url',
  'node',
];
const CONFIG_PATHS = ['source.postgres.url', 'stores.redis.url', 'search.elasticsearch.node'];

/**
 * Paths for pino's `redact` option: the fields above at depths 1 to 5 (`password`,
 * `*.password`, ... `*.*.*.*.password`), and the configuration's URLs under `config`
 * (`logger.info({ config }, ...)`). With `censorSecret` a URL keeps everything but its password.
 */
export const SECRET_LOG_PATHS: readonly string[] = Object.freeze([
  ...LOGGED_FIELDS.flatMap((field) =>
    [0, 1, 2, 3, 4].map((depth) => [...Array(depth).fill('*'), field].join('.')),
  ),
  ...CONFIG_PATHS.map((path) => `config.${path}`),
]);

/**
 * pino `redact.censor`: a URL keeps everything but its password; any other value of a
 * secret-named field becomes `***`; other values (a `node` that is an object) pass unchanged.
 */
export function censorSecret(value: unknown, path: readonly string[] = []): unknown {
  if (typeof value === 'string' && value.includes('://')) return maskSecretsInText(value);
  const field = path.at(-1);
  if (field !== undefined && !isSecretName(field)) return value;
  return value === undefined ? value : MASK;
}

/** Ready for `pino({ redact: PINO_REDACT })`. */
export const PINO_REDACT: { paths: string[]; censor: (value: unknown, path: string[]) => unknown } = {
  paths: [...SECRET_LOG_PATHS],
  censor: censorSecret,
};
