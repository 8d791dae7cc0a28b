import { createHash } from 'node:crypto';
import { EnvelopeError } from './envelope-error.js';

/** Kafka refuses longer topic names. */
export const MAX_TOPIC_LENGTH = 249;

const TOPIC_CHARS = /^[A-Za-z0-9._-]+$/;
const KEPT = /^[A-Za-z0-9_]$/;
/** Marks a shortened name: never produced by byte escapes, which are "-" and two hex digits. */
const HASH_MARK = '--';
const HASH_HEX = 16;

/**
 * The topic of a table's events: `<prefix>.<schema>.<table>`, e.g. `cdc.public.users`.
 *
 * Kafka allows only `[A-Za-z0-9._-]` and 249 characters. The prefix is the operator's and is
 * checked, never changed. Schema and table names are encoded so that different tables always
 * get different topics: letters, digits and `_` stay; every other character (`.` and `-`
 * included: `.` separates the parts) becomes `-` and the two upper-case hex digits of each of
 * its UTF-8 bytes (`order-items` -> `order-2Ditems`, `Müller` -> `M-C3-BCller`). A name longer
 * than 249 characters keeps its first characters and ends in `--` and 16 hex digits of the
 * SHA-256 of the full name, so it stays unique and the same on every run.
 */
export function topicFor(prefix: string, schema: string, table: string): string {
  checkPrefix(prefix);
  const full = `${prefix}.${encodeTopicPart(schema, 'schema')}.${encodeTopicPart(table, 'table')}`;
  if (full.length <= MAX_TOPIC_LENGTH) return full;
  const hash = createHash('sha256').update(full).digest('hex').slice(0, HASH_HEX).toUpperCase();
  const room = MAX_TOPIC_LENGTH - HASH_MARK.length - HASH_HEX;
  if (prefix.length + 2 > room) {
    throw new EnvelopeError(
      'TOPIC_NAME',
      'topic',
      '',
      `prefix "${prefix}" leaves no room for the table in ${MAX_TOPIC_LENGTH} characters; configure a shorter kafka.topicPrefix`,
    );
  }
  let head = full.slice(0, room);
  // Never cut an escape ("-XY") in two: drop a partial one.
  const dash = head.lastIndexOf('-', head.length - 1);
  if (dash >= head.length - 2 && /^-[0-9A-F]{0,1}$/.test(head.slice(dash))) head = head.slice(0, dash);
  return `${head}${HASH_MARK}${hash}`;
}

/** A schema or table name as it appears in a topic (see topicFor). */
export function encodeTopicPart(name: string, what: 'schema' | 'table' = 'table'): string {
  if (name === '')
    throw new EnvelopeError('TOPIC_NAME', 'topic', '', `the ${what} name is empty; a topic needs a ${what}`);
  let out = '';
  for (const char of name) {
    if (KEPT.test(char)) out += char;
    else
      for (const byte of Buffer.from(char, 'utf8'))
        out += `-${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function checkPrefix(prefix: string): void {
  if (!TOPIC_CHARS.test(prefix)) {
    throw new EnvelopeError(
      'TOPIC_NAME',
      'topic',
      '',
      `prefix ${JSON.stringify(prefix)} is not a valid Kafka topic prefix; use only letters, digits, ".", "_" and "-" in kafka.topicPrefix`,
    );
  }
}
