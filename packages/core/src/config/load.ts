import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import { crossCheck } from './cross-checks.js';
import { type AppliedOverride, applyEnvOverrides, type Env } from './env-overrides.js';
import { describeValue, formatPath, type PathSegment, type Problem, problemsFromIssue } from './problems.js';
import { type Config, configSchema } from './schema.js';

/** Names the environment variable holding the config file's path. */
export const CONFIG_PATH_VARIABLE = 'CDC_CACHE_CONFIG';

/** A configuration that cannot be used: one line per problem, each naming file, path and fix. */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(readonly problems: readonly string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
  }
}

export interface ParseConfigOptions {
  /** Environment for `CDC_CACHE__*` overrides; none when absent. */
  env?: Env;
  /** Named at the start of every problem line. Default `config.yaml`. */
  fileName?: string;
}

const SECTIONS = 'source, kafka, stores, rules, ...';

/** Validates a configuration given as YAML text; throws ConfigError listing every problem. */
export function parseConfig(yamlText: string, options: ParseConfigOptions = {}): Config {
  const fileName = options.fileName ?? 'config.yaml';
  const doc = YAML.parseDocument(yamlText, { prettyErrors: true, uniqueKeys: true, merge: true });
  const syntaxError = doc.errors[0];
  if (syntaxError !== undefined) {
    const position = syntaxError.linePos?.[0];
    const where = position ? `${fileName}:${position.line}:${position.col}` : fileName;
    throw new ConfigError([
      `${where}: YAML syntax error: ${yamlReason(syntaxError.message)}; fix the YAML there`,
    ]);
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    const reason = error instanceof Error ? yamlReason(error.message) : String(error);
    throw new ConfigError([`${fileName}: YAML error: ${reason}; fix the YAML`]);
  }
  if (raw === null || raw === undefined) {
    throw new ConfigError([
      `${fileName}: the file is empty; write the configuration (${SECTIONS}), starting from examples/cdc-cache.yaml`,
    ]);
  }
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError([
      `${fileName}: the top level is ${describeValue(raw, [])}, not a mapping of options; write options such as ${SECTIONS}`,
    ]);
  }
  const document = raw as Record<string, unknown>;
  const overrides = applyEnvOverrides(document, options.env ?? {}, configSchema);
  const problems: string[] = [...overrides.problems];

  const result = configSchema.safeParse(document);
  const line = (problem: Problem): string => formatProblem(fileName, problem, overrides.applied);
  if (!result.success) {
    for (const issue of result.error.issues) {
      for (const problem of problemsFromIssue(issue, configSchema, document)) problems.push(line(problem));
    }
  } else {
    for (const problem of crossCheck(result.data)) problems.push(line(problem));
  }
  if (problems.length > 0 || !result.success) throw new ConfigError(problems);
  return result.data;
}

/** One line: `<file>: <path> (from <VARIABLE>): <what is wrong>; <what to do>`. */
function formatProblem(fileName: string, problem: Problem, applied: readonly AppliedOverride[]): string {
  const source = overrideFor(problem.path, applied);
  const origin = source === undefined ? '' : ` (from ${source.variable})`;
  return `${fileName}: ${formatPath(problem.path)}${origin}: ${problem.message}`;
}

/** The last applied override whose path contains the problem's path. */
function overrideFor(
  path: readonly PathSegment[],
  applied: readonly AppliedOverride[],
): AppliedOverride | undefined {
  let found: AppliedOverride | undefined;
  for (const override of applied) {
    if (override.path.length <= path.length && override.path.every((segment, i) => segment === path[i])) {
      found = override;
    }
  }
  return found;
}

function yamlReason(message: string): string {
  const first = message.split('\n')[0] ?? message;
  return first
    .replace(/ at line \d+, column \d+:?$/, '')
    .replace(/: ".*"$/, '')
    .trim();
}

export interface LoadConfigOptions {
  /** The file named by `--config`; when absent, the file named by CDC_CACHE_CONFIG. */
  path?: string;
  /** Environment for CDC_CACHE_CONFIG and `CDC_CACHE__*` overrides. Default process.env. */
  env?: Env;
}

/** Reads and validates the configuration file; throws ConfigError listing every problem. */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? process.env;
  const fromFlag = options.path !== undefined;
  const path = options.path ?? env[CONFIG_PATH_VARIABLE];
  if (path === undefined || path === '') {
    throw new ConfigError([
      `no configuration file: pass --config <file> or set ${CONFIG_PATH_VARIABLE} (start from examples/cdc-cache.yaml)`,
    ]);
  }
  const namedBy = fromFlag ? '--config' : CONFIG_PATH_VARIABLE;
  const fix = fromFlag
    ? 'pass --config with the right file'
    : `set ${CONFIG_PATH_VARIABLE} to the right file`;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const what =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EISDIR'
          ? 'is a directory, not a file'
          : code === 'EACCES'
            ? 'permission denied'
            : `cannot be read (${code ?? String(error)})`;
    throw new ConfigError([`${path}: ${what} (named by ${namedBy}); check the path, or ${fix}`]);
  }
  return parseConfig(text, { env, fileName: path });
}

/** The value of `--config <file>`, `--config=<file>` or `-c <file>`; null when absent. */
export function configPathFromArgv(argv: readonly string[]): string | null {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--config' || arg === '-c') {
      const value = argv[i + 1];
      if (value === undefined || value.startsWith('-')) {
        throw new ConfigError([`${arg} needs a file: pass ${arg} <file>`]);
      }
      return value;
    }
    if (arg.startsWith('--config=')) return arg.slice('--config='.length);
  }
  return null;
}

/**
 * For a service's main: the configuration, or each problem on stderr and exit code 2.
 * `argv` without node and script (process.argv.slice(2)).
 */
export function loadConfigOrExit(
  argv: readonly string[] = process.argv.slice(2),
  env: Env = process.env,
): Config {
  try {
    const path = configPathFromArgv(argv);
    return loadConfig(path === null ? { env } : { path, env });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const problem of error.problems) process.stderr.write(`${problem}\n`);
    process.exit(2);
  }
}
