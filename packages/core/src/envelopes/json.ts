import type { MessageBytes } from './envelope.js';
import { EnvelopeError, type EnvelopeErrorCode } from './envelope-error.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The text of message bytes; invalid UTF-8 is an error, never replaced silently. */
export function messageText(bytes: MessageBytes, envelope: string, what: string): string {
  if (typeof bytes === 'string') return bytes;
  try {
    return utf8.decode(bytes);
  } catch {
    throw new EnvelopeError(
      'ENVELOPE_NOT_JSON',
      envelope,
      '',
      `${what} is not UTF-8 text; it was not written by a ${envelope} producer (send it to the dead-letter topic)`,
    );
  }
}

/** Parses message bytes as JSON, or throws an EnvelopeError that quotes the start of them. */
export function parseMessageJson(bytes: MessageBytes, envelope: string, what: string): unknown {
  const text = messageText(bytes, envelope, what);
  try {
    return JSON.parse(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new EnvelopeError(
      'ENVELOPE_NOT_JSON',
      envelope,
      '',
      `${what} is not JSON (${reason}; it starts ${JSON.stringify(text.slice(0, 40))}); it was not written by a ${envelope} producer (send it to the dead-letter topic)`,
    );
  }
}

/**
 * JSON text like JSON.stringify, except that bigints are written as exact integers (Debezium
 * writes 64-bit LSNs and nanosecond times as JSON numbers, which a JS number cannot hold).
 * Object keys keep their insertion order.
 */
export function jsonWithBigInts(value: unknown): string {
  return write(value) ?? 'null';
}

function write(value: unknown): string | undefined {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'bigint':
      return value.toString();
    case 'string':
    case 'number':
    case 'boolean':
      return JSON.stringify(value);
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
  }
  const object = value as { toJSON?: unknown };
  if (typeof object.toJSON === 'function') return write((object.toJSON as () => unknown)());
  if (Array.isArray(value)) return `[${value.map((item) => write(item) ?? 'null').join(',')}]`;
  const parts: string[] = [];
  for (const [name, item] of Object.entries(value as Record<string, unknown>)) {
    const text = write(item);
    if (text !== undefined) parts.push(`${JSON.stringify(name)}:${text}`);
  }
  return `{${parts.join(',')}}`;
}

/** Thrown by the shape checks below; the caller's envelope name and path make the message. */
export function invalid(
  envelope: string,
  path: string,
  problem: string,
  code: EnvelopeErrorCode = 'ENVELOPE_INVALID',
): never {
  throw new EnvelopeError(code, envelope, path, problem);
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** A short description of a JSON value for error messages: its type, and the value when small. */
export function describe(value: unknown): string {
  if (value === undefined) return 'nothing (the field is missing)';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  const text = JSON.stringify(value) ?? String(value);
  return `${typeof value} ${text.length > 40 ? `${text.slice(0, 40)}…` : text}`;
}
