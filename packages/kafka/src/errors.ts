/**
 * Errors of this package: a code and a one-line message that says what failed, where, and
 * what to do.
 */

export type KafkaErrorCode = 'KAFKA_UNREACHABLE' | 'KAFKA_SEND_FAILED' | 'KAFKA_TOPIC_MISSING';

export class KafkaError extends Error {
  override readonly name = 'KafkaError';
  constructor(
    readonly code: KafkaErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EPIPE',
]);

const NETWORK_WORDS =
  /ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|Connection (error|timeout|closed)|connect to any broker|Cannot connect|Connection refused/i;

/** The innermost message of an error chain (causes and aggregated errors), for one line. */
export function rootMessage(error: unknown): string {
  let current: unknown = error;
  for (let depth = 0; depth < 10; depth++) {
    const next = innerError(current);
    if (next === undefined) break;
    current = next;
  }
  if (!(current instanceof Error)) return String(current);
  const id = brokerErrorId(current);
  return id !== undefined && !current.message.includes(id) ? `${current.message} (${id})` : current.message;
}

/** The broker's error name (e.g. MESSAGE_TOO_LARGE) of a client error, if it has one. */
function brokerErrorId(error: Error): string | undefined {
  const id = (error as { apiId?: unknown }).apiId ?? (error as { type?: unknown }).type;
  return typeof id === 'string' ? id : undefined;
}

function innerError(error: unknown): unknown {
  if (!(error instanceof Error)) return undefined;
  if (error.cause !== undefined && error.cause !== null) return error.cause;
  // AggregateError and clients that collect errors of several attempts or brokers.
  const errors = (error as { errors?: unknown }).errors;
  if (Array.isArray(errors) && errors.length > 0) return errors[errors.length - 1];
  // KafkaJS keeps the last attempt's error here.
  const original = (error as { originalError?: unknown }).originalError;
  return original ?? undefined;
}

/** True when an error (or anything in its chain) says the broker could not be reached. */
export function isNetworkError(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 10 && current !== undefined; depth++) {
    if (current instanceof Error) {
      const code = (current as { code?: unknown }).code;
      if (typeof code === 'string' && NETWORK_CODES.has(code)) return true;
      if (NETWORK_WORDS.test(current.message)) return true;
      if (/^KafkaJS(Connection|ConnectionClosed|BrokerNotFound)Error$/.test(current.name)) return true;
    }
    current = innerError(current);
  }
  return false;
}

/** `Kafka at 127.0.0.1:19092 is unreachable: ...; is it running? npm run stack -- status` */
export function unreachableError(brokers: string[], cause: unknown): KafkaError {
  const detail = rootMessage(cause).replace(/\s+/g, ' ').trim();
  return new KafkaError(
    'KAFKA_UNREACHABLE',
    `Kafka at ${brokers.join(',')} is unreachable: ${detail}; is it running? npm run stack -- status`,
    { cause },
  );
}

/** Turns a client's error during connect or a call into ours when it is a network failure. */
export function describeFailure(brokers: string[], error: unknown): unknown {
  if (error instanceof KafkaError) return error;
  return isNetworkError(error) ? unreachableError(brokers, error) : error;
}

/**
 * True when the broker answered with this error (e.g. TOPIC_ALREADY_EXISTS) for every part
 * of the request that failed. Reads both clients' errors: KafkaJS's `type` and
 * @platformatic/kafka's `apiId`, through aggregated errors and causes.
 */
export function onlyBrokerErrors(error: unknown, type: string): boolean {
  const found: string[] = [];
  const visit = (current: unknown, depth: number): void => {
    if (!(current instanceof Error) || depth > 10) return;
    const id = brokerErrorId(current);
    const errors = (current as { errors?: unknown }).errors;
    if (Array.isArray(errors) && errors.length > 0) {
      for (const inner of errors) visit(inner, depth + 1);
    } else if (id !== undefined) {
      found.push(id);
    } else if (current.cause !== undefined) {
      visit(current.cause, depth + 1);
    } else {
      found.push('?');
    }
  };
  visit(error, 0);
  return found.length > 0 && found.every((id) => id === type);
}

export function topicMissingError(brokers: string[], topics: string[]): KafkaError {
  return new KafkaError(
    'KAFKA_TOPIC_MISSING',
    `Kafka topic${topics.length > 1 ? 's' : ''} ${topics.join(', ')} missing at ${brokers.join(',')}; create ${topics.length > 1 ? 'them' : 'it'} first (TopicAdmin.ensureTopics)`,
  );
}

/** A send that was not acknowledged: which records, where, and why (network failures say so). */
export function sendFailure(brokers: string[], records: { topic: string }[], error: unknown): KafkaError {
  if (error instanceof KafkaError) return error;
  if (isNetworkError(error)) return unreachableError(brokers, error);
  const topics = [...new Set(records.map((record) => record.topic))].join(', ');
  const detail = rootMessage(error).replace(/\s+/g, ' ').trim();
  return new KafkaError(
    'KAFKA_SEND_FAILED',
    `Kafka at ${brokers.join(',')} did not acknowledge ${records.length} records for ${topics}: ${detail}`,
    { cause: error },
  );
}
