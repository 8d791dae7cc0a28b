import { PORTS } from '../ports.js';
import { probeFailure, tcpExchange } from '../probes.js';
import type { ServerDef } from './types.js';

/** A RESP reply is whole: a simple line (+OK, -ERR) or a bulk string of its announced length. */
export function respComplete(reply: Buffer): boolean {
  const lineEnd = reply.indexOf('\r\n');
  if (lineEnd < 0) return false;
  if (reply[0] !== 0x24 /* $ */) return true;
  const length = Number(reply.subarray(1, lineEnd).toString());
  return length < 0 || reply.length >= lineEnd + 2 + length + 2;
}

/** The `redis_version` field of an INFO reply. */
export function redisVersionFromInfo(info: string): string | null {
  return /^redis_version:(\S+)/m.exec(info)?.[1] ?? null;
}

export const redis: ServerDef = {
  name: 'redis',
  ports: [PORTS.redis],
  startTimeoutMs: 30_000,
  debPackages: ['redis-server'],

  async prepare(ctx) {
    ctx.dir('data', 'redis');
  },

  command(ctx) {
    const dir = ctx.dir('data', 'redis');
    return {
      command: '/usr/bin/redis-server',
      // A cache for tests and benchmarks: no persistence at all (no RDB snapshots, no AOF).
      args: [
        '--bind',
        '127.0.0.1',
        '--port',
        String(PORTS.redis),
        '--save',
        '',
        '--appendonly',
        'no',
        '--daemonize',
        'no',
        '--dir',
        dir,
        '--loglevel',
        'notice',
      ],
      env: ctx.env(),
      cwd: dir,
    };
  },

  async probe() {
    try {
      const reply = (await tcpExchange(PORTS.redis, 'PING\r\n', respComplete)).toString();
      return reply.startsWith('+PONG')
        ? { healthy: true, detail: 'PING -> PONG' }
        : { healthy: false, detail: `PING -> ${reply.trim().slice(0, 80)}` };
    } catch (error) {
      return { healthy: false, detail: probeFailure(error) };
    }
  },

  async version() {
    try {
      return redisVersionFromInfo(
        (await tcpExchange(PORTS.redis, 'INFO server\r\n', respComplete)).toString(),
      );
    } catch {
      return null;
    }
  },
};
