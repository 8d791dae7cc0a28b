import { connect, createServer, type Server, type Socket } from 'node:net';
import { KAFKA_FAULT_LISTENER_PORT, KAFKA_FAULT_PROXY_PORT } from '@cdc-cache/local-stack';

/**
 * A TCP proxy in front of the broker's fault listener. Clients bootstrapped at `brokers` are
 * told (advertised listener) to reach the broker through this proxy, so every request they
 * make passes here. `hold()` stops forwarding (requests wait, nothing is acknowledged),
 * `release()` lets everything through again; the broker itself keeps serving everyone else.
 * One test file at a time can own it (it listens on a fixed port).
 */
export interface KafkaFaultProxy {
  readonly brokers: string[];
  hold(): void;
  release(): void;
  close(): Promise<void>;
}

export async function startKafkaFaultProxy(): Promise<KafkaFaultProxy> {
  const pairs = new Set<[Socket, Socket]>();
  let held = false;
  const server: Server = createServer((client) => {
    const upstream = connect(KAFKA_FAULT_LISTENER_PORT, '127.0.0.1');
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    client.pipe(upstream);
    upstream.pipe(client);
    if (held) for (const socket of pair) socket.pause();
    const close = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close);
    upstream.on('error', close);
    client.on('close', close);
    upstream.on('close', close);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE'
          ? new Error(
              `Kafka fault proxy port ${KAFKA_FAULT_PROXY_PORT} is in use: another test file owns the proxy`,
            )
          : error,
      ),
    );
    server.listen(KAFKA_FAULT_PROXY_PORT, '127.0.0.1', resolve);
  });
  return {
    brokers: [`127.0.0.1:${KAFKA_FAULT_PROXY_PORT}`],
    hold() {
      held = true;
      for (const pair of pairs) for (const socket of pair) socket.pause();
    },
    release() {
      held = false;
      for (const pair of pairs) for (const socket of pair) socket.resume();
    },
    async close() {
      for (const [client, upstream] of pairs) {
        client.destroy();
        upstream.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
