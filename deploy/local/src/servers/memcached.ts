import { PORTS } from '../ports.js';
import { probeFailure, tcpExchange } from '../probes.js';
import type { ServerDef } from './types.js';

const lineComplete = (reply: Buffer) => reply.includes('\r\n');

async function versionLine(): Promise<string> {
  return (await tcpExchange(PORTS.memcached, 'version\r\n', lineComplete)).toString().trim();
}

export const memcached: ServerDef = {
  name: 'memcached',
  ports: [PORTS.memcached],
  startTimeoutMs: 30_000,
  debPackages: ['memcached'],

  async prepare(ctx) {
    ctx.dir('data', 'memcached');
  },

  command(ctx) {
    return {
      command: '/usr/bin/memcached',
      // TCP only on loopback (-U 0: no UDP), 256 MB of items, room for many test connections.
      args: ['-l', '127.0.0.1', '-p', String(PORTS.memcached), '-U', '0', '-m', '256', '-c', '4096'],
      env: ctx.env(),
      cwd: ctx.dir('data', 'memcached'),
    };
  },

  async probe() {
    try {
      const line = await versionLine();
      return line.startsWith('VERSION ')
        ? { healthy: true, detail: 'version command answered' }
        : { healthy: false, detail: `version -> ${line.slice(0, 80)}` };
    } catch (error) {
      return { healthy: false, detail: probeFailure(error) };
    }
  },

  async version() {
    try {
      const line = await versionLine();
      return line.startsWith('VERSION ') ? line.slice('VERSION '.length) : null;
    } catch {
      return null;
    }
  },
};
