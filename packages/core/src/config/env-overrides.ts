import YAML from 'yaml';
import { z } from 'zod';
import { closest, formatPath, optionNames, type PathSegment, unwrapSchema } from './problems.js';

/**
 * Environment overrides: `CDC_CACHE__SOURCE__POSTGRES__URL=...` sets source.postgres.url.
 *
 * - `__` separates path segments; a segment matches an option case-insensitively, ignoring
 *   `_`, so camelCase options are written in UPPER_SNAKE (`TOPIC_PREFIX`) or upper case
 *   (`TOPICPREFIX`); numeric segments index lists (`RULES__0__KEYS__1__TTL`), and the index
 *   right after the last entry appends one.
 * - Options that take text (and enums) get the value verbatim, so a password may hold `#`,
 *   `:` or quotes. Every other option reads the value as YAML: `60` is a number, `true` a
 *   boolean, `[a, b]` a list, `{ type: keyword }` a mapping; a list of text also accepts
 *   comma-separated items (`10.0.0.1:9092,10.0.0.2:9092`).
 * - Variables are applied shortest path first, so `KAFKA__BROKERS=[...]` then
 *   `KAFKA__BROKERS__0=...` does what it says.
 * - A variable naming no option is an error that names the variable.
 */

export const ENV_PREFIX = 'CDC_CACHE__';

export type Env = Readonly<Record<string, string | undefined>>;

export interface AppliedOverride {
  variable: string;
  path: PathSegment[];
}

export interface EnvOverrideResult {
  applied: AppliedOverride[];
  /** Whole lines: `<VARIABLE>: <what is wrong>; <what to do>`. */
  problems: string[];
}

/** The variable that overrides an option: `['kafka', 'topicPrefix']` -> `CDC_CACHE__KAFKA__TOPIC_PREFIX`. */
export function envVariableFor(path: readonly (PathSegment | '<i>')[]): string {
  return (
    ENV_PREFIX +
    path
      .map((segment) =>
        typeof segment === 'number'
          ? String(segment)
          : segment === '<i>'
            ? '<i>'
            : segment.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase(),
      )
      .join('__')
  );
}

const normalise = (name: string): string => name.toLowerCase().replace(/_/g, '');

function compareSegments(a: readonly string[], b: readonly string[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x === y) continue;
    if (/^\d+$/.test(x) && /^\d+$/.test(y)) return Number(x) - Number(y);
    return x < y ? -1 : 1;
  }
  return a.length - b.length;
}

type Schema = z.core.$ZodType;

type Resolution = { ok: true; path: PathSegment[]; target: Schema } | { ok: false; message: string };

function resolve(root: Schema, segments: readonly string[], doc: unknown): Resolution {
  let schema: Schema = root;
  let data: unknown = doc;
  const path: PathSegment[] = [];
  for (const segment of segments) {
    const inner = unwrapSchema(schema);
    const where = path.length === 0 ? 'the configuration' : formatPath(path);
    if (inner instanceof z.ZodObject) {
      const shape = inner.shape as Record<string, Schema>;
      const names = Object.keys(shape);
      const match = names.find((name) => normalise(name) === normalise(segment));
      if (match === undefined) {
        const suggestion = closest(segment, names);
        const fix = suggestion
          ? `did you mean ${envVariableFor([...path, suggestion])}?`
          : `use one of its options: ${optionNames(inner).join(', ')}`;
        return { ok: false, message: `${where} has no option ${segment}; ${fix}` };
      }
      path.push(match);
      schema = shape[match]!;
      data = isRecord(data) ? data[match] : undefined;
    } else if (inner instanceof z.ZodArray) {
      if (!/^\d+$/.test(segment)) {
        return {
          ok: false,
          message: `${where} is a list and ${segment} is not an index; use a number, such as ${envVariableFor([...path, 0])}`,
        };
      }
      const index = Number(segment);
      path.push(index);
      schema = inner.element;
      data = Array.isArray(data) ? data[index] : undefined;
    } else if (inner instanceof z.ZodRecord || inner instanceof z.ZodUnknown || inner instanceof z.ZodAny) {
      const existing = isRecord(data)
        ? Object.keys(data).find((key) => normalise(key) === normalise(segment))
        : undefined;
      const key = existing ?? segment.toLowerCase();
      path.push(key);
      schema = inner instanceof z.ZodRecord ? inner.valueType : inner;
      data = isRecord(data) ? data[key] : undefined;
    } else {
      return {
        ok: false,
        message: `${where} is a single value and has no option ${segment}; set ${envVariableFor(path)} itself`,
      };
    }
  }
  return { ok: true, path, target: schema };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

type Parsed = { ok: true; value: unknown } | { ok: false; message: string };

function parseValue(text: string, target: Schema): Parsed {
  const inner = unwrapSchema(target);
  if (inner instanceof z.ZodString || inner instanceof z.ZodEnum) return { ok: true, value: text };
  let value: unknown;
  try {
    value = YAML.parse(text);
  } catch (error) {
    const reason = error instanceof Error ? (error.message.split('\n')[0] ?? '') : String(error);
    return {
      ok: false,
      message: `the value is not valid YAML (${reason.replace(/ at line \d+, column \d+:?$/, '').replace(/: ".*"$/, '')}); fix or quote it`,
    };
  }
  if (
    typeof value === 'string' &&
    inner instanceof z.ZodArray &&
    unwrapSchema(inner.element) instanceof z.ZodString
  ) {
    value = value
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item !== '');
  }
  return { ok: true, value };
}

/** Writes value at path, creating mappings and lists on the way; returns a problem or null. */
function assign(doc: Record<string, unknown>, path: readonly PathSegment[], value: unknown): string | null {
  let container: Record<PathSegment, unknown> | unknown[] = doc;
  for (let i = 0; i < path.length; i++) {
    const segment = path[i]!;
    const last = i === path.length - 1;
    if (typeof segment === 'number') {
      if (!Array.isArray(container)) return `${formatPath(path.slice(0, i))} is not a list`;
      if (segment > container.length) {
        const where = formatPath(path.slice(0, i));
        const fix =
          container.length === 0
            ? `use index 0 to add the first entry`
            : `use 0 to ${container.length - 1} to change an entry, or ${container.length} to add one`;
        return `${where} has ${container.length} entr${container.length === 1 ? 'y' : 'ies'}, so index ${segment} is past the end; ${fix}`;
      }
    }
    if (last) {
      (container as Record<PathSegment, unknown>)[segment] = value;
      return null;
    }
    const next = path[i + 1];
    const existing = (container as Record<PathSegment, unknown>)[segment];
    const wantList = typeof next === 'number';
    if (wantList ? !Array.isArray(existing) : !isRecord(existing)) {
      (container as Record<PathSegment, unknown>)[segment] = wantList ? [] : {};
    }
    container = (container as Record<PathSegment, unknown>)[segment] as
      | Record<PathSegment, unknown>
      | unknown[];
  }
  return null;
}

/** Applies every `CDC_CACHE__*` variable to a parsed (not yet validated) document, in place. */
export function applyEnvOverrides(doc: Record<string, unknown>, env: Env, schema: Schema): EnvOverrideResult {
  const applied: AppliedOverride[] = [];
  const problems: string[] = [];
  const variables = Object.keys(env)
    .filter((name) => name.startsWith(ENV_PREFIX) && env[name] !== undefined)
    .map((name) => ({ name, segments: name.slice(ENV_PREFIX.length).split('__') }))
    .sort((a, b) => compareSegments(a.segments, b.segments));

  for (const { name, segments } of variables) {
    if (segments.some((segment) => segment === '')) {
      problems.push(
        `${name}: the name has an empty segment (a "__" at the start or end, or "____"); separate option names with exactly "__"`,
      );
      continue;
    }
    const resolution = resolve(schema, segments, doc);
    if (!resolution.ok) {
      problems.push(`${name}: ${resolution.message}`);
      continue;
    }
    const parsed = parseValue(env[name]!, resolution.target);
    if (!parsed.ok) {
      problems.push(`${name}: ${parsed.message}`);
      continue;
    }
    const problem = assign(doc, resolution.path, parsed.value);
    if (problem !== null) {
      problems.push(`${name}: ${problem}`);
      continue;
    }
    applied.push({ variable: name, path: resolution.path });
  }
  return { applied, problems };
}
