import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CacheStore, StoreName } from '@cdc-cache/cache-stores';
import { LeaseGuardedReader, RowLoader } from '@cdc-cache/client';
import type { Config } from '@cdc-cache/core';
import type { Logger } from '@cdc-cache/runtime';
import type pg from 'pg';
import { Counter, type Registry } from 'prom-client';
import type { ReadRoute } from './routes.js';

export interface ReadApiOptions {
  config: Config;
  routes: ReadRoute[];
  stores: Partial<Record<StoreName, CacheStore>>;
  pool: pg.Pool;
  registry: Registry;
  log: Logger;
}

/**
 * The read-api: `GET <route>` answers with the row document through lease-guarded read-through
 * (NGINX sends it every cache miss and cache error), plus /metrics, /healthz and /readyz.
 * Responses carry `X-Cache: HIT` when the cache had the value and `X-Cache: MISS` otherwise, and
 * `X-Cache-Source` (hit, filled, waited, database, bypass).
 */
export class ReadApi {
  private server: Server | null = null;
  private readonly readers = new Map<StoreName, LeaseGuardedReader>();
  private readonly loaders = new Map<ReadRoute, RowLoader>();
  private readonly requests: Counter<'route' | 'source'>;
  private readonly databaseReads: Counter<'table'>;

  constructor(private readonly options: ReadApiOptions) {
    const settings = options.config.services.readApi;
    for (const [name, store] of Object.entries(options.stores) as [StoreName, CacheStore][]) {
      this.readers.set(
        name,
        new LeaseGuardedReader({
          store,
          leaseTtlMs: settings.leaseTtlMs,
          waitMs: settings.leaseWaitMs,
          fillTtlSeconds: settings.fillTtl,
        }),
      );
    }
    for (const route of options.routes) {
      this.loaders.set(route, new RowLoader(options.pool, route.table, route.columns, options.config.types));
    }
    this.requests = new Counter({
      name: 'cdc_cache_read_api_requests_total',
      help: 'Read-api GET requests by route and where the answer came from (hit, filled, waited, database, bypass, not_found, error).',
      labelNames: ['route', 'source'],
      registers: [options.registry],
    });
    this.databaseReads = new Counter({
      name: 'cdc_cache_read_api_database_reads_total',
      help: 'Rows the read-api read from PostgreSQL, by table.',
      labelNames: ['table'],
      registers: [options.registry],
    });
  }

  async listen(port: number, host: string): Promise<number> {
    const server = createServer((request, response) => void this.handle(request, response));
    server.keepAliveTimeout = 65_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) =>
        reject(
          error.code === 'EADDRINUSE'
            ? new Error(`port ${port} for the read-api is in use; set another under services.readApi.port`)
            : error,
        ),
      );
      server.listen(port, host, resolve);
    });
    this.server = server;
    return (server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (server) {
      server.closeIdleConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = (request.url ?? '/').split('?')[0] ?? '/';
    try {
      if (path === '/metrics') {
        return reply(
          response,
          200,
          { 'content-type': this.options.registry.contentType },
          await this.options.registry.metrics(),
        );
      }
      if (path === '/healthz') return reply(response, 200, { 'content-type': 'text/plain' }, 'ok\n');
      if (path === '/readyz') {
        const readiness = await this.readiness();
        return reply(
          response,
          readiness.ready ? 200 : 503,
          { 'content-type': 'application/json' },
          `${JSON.stringify(readiness)}\n`,
        );
      }
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        return reply(
          response,
          405,
          { 'content-type': 'application/json', allow: 'GET, HEAD' },
          '{"error":"method not allowed"}\n',
        );
      }
      for (const route of this.options.routes) {
        const params = route.match(path);
        if (params === null) continue;
        return await this.read(route, params, response);
      }
      return reply(response, 404, { 'content-type': 'application/json' }, '{"error":"no such route"}\n');
    } catch (error) {
      this.options.log.error({ path }, (error as Error).message);
      return reply(
        response,
        500,
        { 'content-type': 'application/json' },
        `${JSON.stringify({ error: 'internal error' })}\n`,
      );
    }
  }

  private async read(
    route: ReadRoute,
    params: Record<string, unknown>,
    response: ServerResponse,
  ): Promise<void> {
    const reader = this.readers.get(route.store)!;
    const loader = this.loaders.get(route)!;
    const result = await reader.read({
      table: route.table,
      template: route.template,
      params,
      load: async () => {
        this.databaseReads.inc({ table: route.table });
        try {
          return await loader.load(params);
        } catch (error) {
          // A key value of the wrong type for its column (`/v1/users/abc` for a bigint id): no such row.
          if ((error as { code?: string }).code === '22P02') return null;
          throw error;
        }
      },
    });
    if (result.value === null) {
      this.requests.inc({ route: route.path, source: 'not_found' });
      return reply(
        response,
        404,
        { 'content-type': 'application/json', 'x-cache': 'MISS' },
        '{"error":"not found"}\n',
      );
    }
    this.requests.inc({ route: route.path, source: result.source });
    return reply(
      response,
      200,
      {
        'content-type': 'application/json',
        'x-cache': result.source === 'hit' || result.source === 'waited' ? 'HIT' : 'MISS',
        'x-cache-source': result.source,
      },
      result.value,
    );
  }

  private async readiness(): Promise<{ ready: boolean; detail: Record<string, string> }> {
    const detail: Record<string, string> = {};
    let ready = true;
    try {
      await this.options.pool.query('SELECT 1');
      detail.postgres = 'up';
    } catch (error) {
      ready = false;
      detail.postgres = (error as Error).message;
    }
    // The read path works without the caches (it reads PostgreSQL), so they only inform.
    for (const [name, store] of Object.entries(this.options.stores) as [StoreName, CacheStore][]) {
      detail[name] = await store.ping().then(
        () => 'up',
        (error: Error) => error.message,
      );
    }
    return { ready, detail };
  }
}

function reply(
  response: ServerResponse,
  status: number,
  headers: Record<string, string>,
  body: string,
): void {
  response.writeHead(status, { ...headers, 'content-length': Buffer.byteLength(body) });
  response.end(response.req.method === 'HEAD' ? undefined : body);
}
