import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface Readiness {
  ready: boolean;
  /** One line per dependency: what is up, what is not. */
  detail: Record<string, string>;
}

export interface OpsServerOptions {
  port: number;
  host?: string;
  registry: Registry;
  /** Readiness: false while a dependency is down (or a standby waits for the lock). */
  readiness: () => Readiness | Promise<Readiness>;
}

export interface OpsServer {
  port: number;
  close(): Promise<void>;
}

/**
 * The three endpoints every service has: /metrics (Prometheus text), /healthz (the process
 * answers: liveness), /readyz (its dependencies answer: 200 or 503 with the details as JSON).
 */
export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    const reply = (status: number, type: string, body: string) => {
      response.writeHead(status, { 'content-type': type });
      response.end(body);
    };
    void (async () => {
      try {
        if (path === '/metrics') {
          reply(200, options.registry.contentType, await options.registry.metrics());
        } else if (path === '/healthz') {
          reply(200, 'text/plain', 'ok\n');
        } else if (path === '/readyz') {
          const readiness = await options.readiness();
          reply(readiness.ready ? 200 : 503, 'application/json', `${JSON.stringify(readiness)}\n`);
        } else {
          reply(404, 'text/plain', 'not found: try /metrics, /healthz or /readyz\n');
        }
      } catch (error) {
        reply(500, 'text/plain', `${error instanceof Error ? error.message : String(error)}\n`);
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE'
          ? new Error(`port ${options.port} for /metrics is in use; set another under services.<name>.port`)
          : error,
      ),
    );
    server.listen(options.port, options.host ?? '127.0.0.1', resolve);
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
