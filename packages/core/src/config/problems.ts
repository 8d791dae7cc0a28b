import { z } from 'zod';
import { isSecretName, MASK, maskSecretsInText } from './secrets.js';

/**
 * Problems found in a configuration, and how zod's issues become one-line human sentences:
 * `<what is wrong>; <what to do>` at an exact path (`rules[1].keys[0].store`).
 */

export type PathSegment = string | number;

export interface Problem {
  path: readonly PathSegment[];
  /** `<what is wrong>; <what to do>`, without the file or the path. */
  message: string;
}

const PLAIN_KEY = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

/** `rules[1].keys[0].store`; the empty path is `(top level)`. */
export function formatPath(path: readonly PathSegment[]): string {
  if (path.length === 0) return '(top level)';
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (PLAIN_KEY.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

export function valueAt(root: unknown, path: readonly PathSegment[]): unknown {
  let current = root;
  for (const segment of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PathSegment, unknown>)[segment];
  }
  return current;
}

/** A short description of a value for a message; secrets are never shown. */
export function describeValue(value: unknown, path: readonly PathSegment[]): string {
  const last = path.at(-1);
  const secret = typeof last === 'string' && isSecretName(last);
  if (value === null) return 'nothing (null)';
  if (Array.isArray(value)) return value.length === 0 ? 'an empty list' : `a list of ${value.length}`;
  if (typeof value === 'object') return 'a mapping';
  if (secret) return `a ${typeof value} (${MASK})`;
  if (typeof value === 'string') {
    const shown = maskSecretsInText(value);
    return `the text ${JSON.stringify(shown.length > 60 ? `${shown.slice(0, 57)}...` : shown)}`;
  }
  if (typeof value === 'number') return `the number ${value}`;
  if (typeof value === 'boolean') return `${value}`;
  return `a ${typeof value}`;
}

// ---------------------------------------------------------------------------------------------
// Walking the schema (for messages and environment overrides)

type Schema = z.core.$ZodType;

/** Strips optional/default/prefault/nullable/readonly/pipe wrappers. */
export function unwrapSchema(schema: Schema): Schema {
  let current: Schema = schema;
  for (;;) {
    if (
      current instanceof z.ZodOptional ||
      current instanceof z.ZodDefault ||
      current instanceof z.ZodPrefault ||
      current instanceof z.ZodNullable ||
      current instanceof z.ZodReadonly
    ) {
      current = current.unwrap();
    } else if (current instanceof z.ZodPipe) {
      current = current.in;
    } else {
      return current;
    }
  }
}

/** The schema at a path of the data, or undefined when the path leaves the schema. */
export function schemaAt(root: Schema, path: readonly PathSegment[]): Schema | undefined {
  let current: Schema = root;
  for (const segment of path) {
    const inner = unwrapSchema(current);
    if (inner instanceof z.ZodObject) {
      const shape = inner.shape as Record<string, Schema>;
      if (typeof segment !== 'string' || !Object.hasOwn(shape, segment)) return undefined;
      current = shape[segment]!;
    } else if (inner instanceof z.ZodArray) {
      if (typeof segment !== 'number') return undefined;
      current = inner.element;
    } else if (inner instanceof z.ZodRecord) {
      current = inner.valueType;
    } else if (inner instanceof z.ZodUnknown || inner instanceof z.ZodAny) {
      return inner;
    } else {
      return undefined;
    }
  }
  return current;
}

/** The first example a field's metadata gives, looking through its wrappers. */
export function exampleOf(schema: Schema | undefined): unknown {
  const examples = metaField(schema, 'examples');
  return Array.isArray(examples) ? examples[0] : undefined;
}

function unwrapOnce(schema: Schema): Schema {
  if (
    schema instanceof z.ZodOptional ||
    schema instanceof z.ZodDefault ||
    schema instanceof z.ZodPrefault ||
    schema instanceof z.ZodNullable ||
    schema instanceof z.ZodReadonly
  ) {
    return schema.unwrap();
  }
  if (schema instanceof z.ZodPipe) return schema.in;
  return schema;
}

export function optionNames(schema: Schema | undefined): string[] {
  const inner = schema === undefined ? undefined : unwrapSchema(schema);
  return inner instanceof z.ZodObject ? Object.keys(inner.shape) : [];
}

// ---------------------------------------------------------------------------------------------
// Suggestions

/** Optimal string alignment distance: edits, with a swap of two neighbours counting as one. */
function editDistance(a: string, b: string): number {
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, rows[i - 2]![j - 2]! + 1);
      }
      rows[i]![j] = best;
    }
  }
  return rows[a.length]![b.length]!;
}

const normalise = (name: string): string => name.toLowerCase().replace(/[_-]/g, '');

/** The known name closest to a misspelt one, if any is close enough to be a likely typo. */
export function closest(name: string, known: readonly string[]): string | undefined {
  const wanted = normalise(name);
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of known) {
    const distance = editDistance(wanted, normalise(candidate));
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  const tolerance = Math.max(1, Math.floor(wanted.length / 3));
  return bestDistance <= tolerance ? best : undefined;
}

// ---------------------------------------------------------------------------------------------
// zod issues -> problems

function renderExample(example: unknown): string {
  if (typeof example === 'string') return example;
  if (Array.isArray(example)) return `[${example.map(renderExample).join(', ')}]`;
  if (example !== null && typeof example === 'object') {
    return `{ ${Object.entries(example)
      .map(([k, v]) => `${k}: ${renderExample(v)}`)
      .join(', ')} }`;
  }
  return String(example);
}

/** A metadata field of a schema, looking through its wrappers (outermost first). */
function metaField(schema: Schema | undefined, field: string): unknown {
  let current: Schema | undefined = schema;
  while (current !== undefined) {
    const meta = z.globalRegistry.get(current);
    if (meta !== undefined && meta[field] !== undefined) return meta[field];
    const next = unwrapOnce(current);
    if (next === current) return undefined;
    current = next;
  }
  return undefined;
}

function expectedPhrase(expected: string, schema: Schema | undefined): string {
  const inner = schema === undefined ? undefined : unwrapSchema(schema);
  if (inner instanceof z.ZodEnum) return `one of: ${inner.options.join(', ')}`;
  if (expected === 'string' && metaField(schema, 'format') === 'uri') return 'a URL';
  switch (expected) {
    case 'string':
      return 'text';
    case 'number':
      return inner instanceof z.ZodNumber && inner.isInt ? 'a whole number' : 'a number';
    case 'int':
      return 'a whole number';
    case 'boolean':
      return 'true or false';
    case 'array':
      return 'a list';
    case 'object':
    case 'record':
      return 'a mapping of options';
    default:
      return expected;
  }
}

function rangeOf(schema: Schema | undefined): { min: number | null; max: number | null } {
  const inner = schema === undefined ? undefined : unwrapSchema(schema);
  if (inner instanceof z.ZodNumber) return { min: inner.minValue, max: inner.maxValue };
  return { min: null, max: null };
}

function lastName(path: readonly PathSegment[]): string {
  for (let i = path.length - 1; i >= 0; i--) {
    const segment = path[i];
    if (typeof segment === 'string') return segment;
  }
  return 'value';
}

/** Turns one zod issue into problems (an unknown-keys issue gives one problem per key). */
export function problemsFromIssue(issue: z.core.$ZodIssue, root: Schema, raw: unknown): Problem[] {
  const path = issue.path.filter((segment): segment is PathSegment => typeof segment !== 'symbol');
  const schema = schemaAt(root, path);
  const value = valueAt(raw, path);
  switch (issue.code) {
    case 'unrecognized_keys': {
      const known = optionNames(schema);
      const where = path.length === 0 ? 'the top level' : formatPath(path);
      return issue.keys.map((key) => {
        const suggestion = closest(key, known);
        const options = `options under ${where}: ${known.join(', ')}`;
        return {
          path: [...path, key],
          message: suggestion
            ? `unknown option; did you mean ${suggestion}? (${options})`
            : `unknown option; remove it (${options})`,
        };
      });
    }
    case 'invalid_type': {
      const phrase = expectedPhrase(issue.expected, schema);
      const example = exampleOf(schema);
      const hint = example === undefined ? '' : `, such as ${renderExample(example)}`;
      if (value === undefined) {
        return [{ path, message: `missing; add ${lastName(path)} (${phrase}${hint})` }];
      }
      return [
        { path, message: `expected ${phrase}, got ${describeValue(value, path)}; write ${phrase}${hint}` },
      ];
    }
    case 'invalid_value': {
      const known = issue.values.map(String).join(', ');
      const shown =
        typeof value === 'string' ? JSON.stringify(maskSecretsInText(value)) : describeValue(value, path);
      return [{ path, message: `unknown ${lastName(path)} ${shown}; known: ${known}` }];
    }
    case 'too_small': {
      const minimum = Number(issue.minimum);
      if (issue.origin === 'array') {
        return [
          {
            path,
            message:
              Array.isArray(value) && value.length === 0
                ? `the list is empty; list at least ${minimum === 1 ? 'one entry' : `${minimum} entries`}`
                : `lists fewer than ${minimum}; list at least ${minimum} entries`,
          },
        ];
      }
      if (issue.origin === 'string') return [{ path, message: 'is empty; write a value' }];
      const { max } = rangeOf(schema);
      return [{ path, message: `${String(value)} is too small; use ${rangeText(minimum, max, schema)}` }];
    }
    case 'too_big': {
      const maximum = Number(issue.maximum);
      if (issue.origin === 'array')
        return [{ path, message: `lists more than ${maximum}; list at most ${maximum}` }];
      if (issue.origin === 'string')
        return [{ path, message: `is too long; use at most ${maximum} characters` }];
      const { min } = rangeOf(schema);
      return [{ path, message: `${String(value)} is too big; use ${rangeText(min, maximum, schema)}` }];
    }
    case 'custom':
    case 'invalid_format':
      // Our own checks word their whole message (`<what is wrong>; <what to do>`).
      return [
        {
          path,
          message: issue.message.includes('; ') ? issue.message : `${issue.message}; see docs/config.md`,
        },
      ];
    default:
      return [{ path, message: `${issue.message}; see docs/config.md` }];
  }
}

function rangeText(min: number | null, max: number | null, schema: Schema | undefined): string {
  const inner = schema === undefined ? undefined : unwrapSchema(schema);
  const kind = inner instanceof z.ZodNumber && inner.isInt ? 'a whole number' : 'a number';
  const bounded = (n: number | null): n is number =>
    n !== null && Number.isFinite(n) && Math.abs(n) < 2 ** 53 - 1;
  if (bounded(min) && bounded(max)) return `${kind} from ${min} to ${max}`;
  if (bounded(min)) return `${kind} of at least ${min}`;
  if (bounded(max)) return `${kind} of at most ${max}`;
  return kind;
}
