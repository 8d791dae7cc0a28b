import http from 'node:http';
import net from 'node:net';
import { HOST } from './ports.js';

/** What a health probe found: healthy or not, and a short human detail either way. */
export interface Probe {
  healthy: boolean;
  detail: string;
}

export const PROBE_TIMEOUT_MS = 2000;

/**
 * Send one request over a fresh TCP connection and collect the reply until `complete` says it is
 * whole. Rejects on connection errors and after `timeoutMs` (a probe must never hang).
 */
export function tcpExchange(
  port: number,
  request: Buffer | string,
  complete: (reply: Buffer) => boolean,
  timeoutMs = PROBE_TIMEOUT_MS,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let reply = Buffer.alloc(0);
    const socket = net.connect({ host: HOST, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete reply within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => socket.write(request));
    socket.on('data', (chunk) => {
      reply = Buffer.concat([reply, chunk]);
      if (complete(reply)) {
        clearTimeout(timer);
        socket.destroy();
        resolve(reply);
      }
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    });
    socket.once('close', () => {
      clearTimeout(timer);
      reject(new Error('connection closed before a complete reply'));
    });
  });
}

export interface HttpReply {
  status: number;
  body: string;
}

/** A plain HTTP request without keep-alive (so probing never keeps this process alive). */
export function httpRequest(
  port: number,
  pathAndQuery: string,
  method = 'GET',
  timeoutMs = PROBE_TIMEOUT_MS,
): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: HOST, port, path: pathAndQuery, method, agent: false, timeout: timeoutMs },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no reply within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** A short reason for a failed probe: ECONNREFUSED reads better as "not accepting connections". */
export function probeFailure(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ECONNREFUSED') return 'not accepting connections';
  if (code === 'ECONNRESET') return 'connection reset';
  return error instanceof Error ? error.message : String(error);
}
