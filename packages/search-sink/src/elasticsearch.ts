/**
 * The few Elasticsearch calls the sink makes, over Node's fetch. Not the official client:
 * - bulk action lines carry 64-bit versions, which must be written as exact integers (the
 *   client serialises with JSON.stringify, where numbers above 2^53 lose their last digits);
 * - 429 (backpressure) and connection failures are the bulk writer's business: it retries
 *   them with its own backoff and reports them as metrics, so no second retry layer below it;
 * - the trimmed 8.19 distribution the project runs answers only the core APIs used here.
 */

export interface ElasticsearchConnection {
  node: string;
  username?: string | undefined;
  password?: string | undefined;
  apiKey?: string | undefined;
  /** Per-request timeout (default 30 s). */
  timeoutMs?: number;
}

export type ElasticsearchErrorCode =
  /** No answer: connection refused or reset, DNS, timeout. */
  | 'ES_UNREACHABLE'
  /** Elasticsearch answered with an error status. */
  | 'ES_ERROR';

export class ElasticsearchError extends Error {
  constructor(
    readonly code: ElasticsearchErrorCode,
    message: string,
    /** HTTP status, 0 when there was no answer. */
    readonly status: number,
    /** Elasticsearch's error type (`index_not_found_exception`, ...), when it gave one. */
    readonly type: string | null = null,
  ) {
    super(message);
    this.name = 'ElasticsearchError';
  }
}

export interface ElasticsearchResponse<T> {
  status: number;
  body: T;
}

export class Elasticsearch {
  private readonly base: string;
  private readonly headers: Record<string, string>;
  private readonly timeoutMs: number;

  constructor(connection: ElasticsearchConnection) {
    this.base = connection.node.replace(/\/+$/, '');
    this.timeoutMs = connection.timeoutMs ?? 30_000;
    this.headers = {};
    if (connection.apiKey) this.headers.authorization = `ApiKey ${connection.apiKey}`;
    else if (connection.username) {
      const token = Buffer.from(`${connection.username}:${connection.password ?? ''}`).toString('base64');
      this.headers.authorization = `Basic ${token}`;
    }
  }

  /** Where requests go (no credentials), for messages. */
  get node(): string {
    return this.base;
  }

  /**
   * One request. Resolves with any status listed in `accept` (default: 2xx only); rejects with
   * an ElasticsearchError otherwise, or with code ES_UNREACHABLE when nothing answered.
   */
  async request<T>(
    method: 'GET' | 'PUT' | 'POST' | 'DELETE' | 'HEAD',
    path: string,
    body?: unknown,
    options: { accept?: number[]; ndjson?: string; timeoutMs?: number } = {},
  ): Promise<ElasticsearchResponse<T>> {
    const headers: Record<string, string> = { ...this.headers };
    let payload: string | undefined;
    if (options.ndjson !== undefined) {
      headers['content-type'] = 'application/x-ndjson';
      payload = options.ndjson;
    } else if (body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    let response: Response;
    try {
      response = await fetch(`${this.base}${path}`, {
        method,
        headers,
        body: payload ?? null,
        signal: AbortSignal.timeout(options.timeoutMs ?? this.timeoutMs),
      });
    } catch (error) {
      throw new ElasticsearchError(
        'ES_UNREACHABLE',
        `Elasticsearch at ${this.base} does not answer (${describeFetchError(error)}); check search.elasticsearch.node and that the cluster is up`,
        0,
      );
    }
    const text = method === 'HEAD' ? '' : await response.text().catch(() => '');
    let parsed: unknown = null;
    if (text !== '') {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    const ok = options.accept ? options.accept.includes(response.status) : response.ok;
    if (!ok) {
      const { type, reason } = errorOf(parsed);
      throw new ElasticsearchError(
        'ES_ERROR',
        `Elasticsearch ${method} ${path.split('?')[0]} answered ${response.status}${type ? ` ${type}` : ''}: ${reason ?? text.slice(0, 300)}`,
        response.status,
        type,
      );
    }
    return { status: response.status, body: parsed as T };
  }
}

function errorOf(body: unknown): { type: string | null; reason: string | null } {
  if (body !== null && typeof body === 'object' && 'error' in body) {
    const error = (body as { error: unknown }).error;
    if (typeof error === 'string') return { type: null, reason: error };
    if (error !== null && typeof error === 'object') {
      const { type, reason } = error as { type?: unknown; reason?: unknown };
      return {
        type: typeof type === 'string' ? type : null,
        reason: typeof reason === 'string' ? reason : null,
      };
    }
  }
  return { type: null, reason: null };
}

function describeFetchError(error: unknown): string {
  if (error instanceof Error) {
    if (error.name === 'TimeoutError') return 'timed out';
    const cause = (error as Error & { cause?: unknown }).cause;
    if (cause instanceof Error) {
      const code = (cause as Error & { code?: unknown }).code;
      return typeof code === 'string' ? code : cause.message;
    }
    return error.message;
  }
  return String(error);
}
