import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy that can be cut and restored, to make one server unreachable for one process
 * while everyone else keeps using it (the shared Elasticsearch serves other tests meanwhile).
 * `cut()` drops every connection and stops listening (clients get "connection refused", as if
 * the server had died); `restore()` listens again on the same port.
 */
export interface CuttableProxy {
  readonly port: number;
  readonly url: string;
  cut(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function startCuttableProxy(
  targetPort: number,
  targetHost = '127.0.0.1',
): Promise<CuttableProxy> {
  const sockets = new Set<Socket>();
  let server: Server | null = null;
  const listen = (port: number) =>
    new Promise<Server>((resolve, reject) => {
      const created = createServer((client) => {
        const upstream = connect(targetPort, targetHost);
        for (const socket of [client, upstream]) {
          sockets.add(socket);
          socket.on('close', () => sockets.delete(socket));
          socket.on('error', () => {
            client.destroy();
            upstream.destroy();
          });
        }
        client.pipe(upstream);
        upstream.pipe(client);
      });
      created.once('error', reject);
      created.listen(port, '127.0.0.1', () => resolve(created));
    });
  server = await listen(0);
  const port = (server.address() as { port: number }).port;
  const stop = async () => {
    const current = server;
    server = null;
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    if (current) await new Promise<void>((resolve) => current.close(() => resolve()));
  };
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    cut: stop,
    async restore() {
      if (server === null) server = await listen(port);
    },
    close: stop,
  };
}
