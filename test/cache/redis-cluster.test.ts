import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fenceVersion, RedisStore } from '@cdc-cache/cache-stores';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Redis Cluster (`stores.redis.cluster: true`): a private one-node cluster owning all 16384
// slots. Every operation touches one key, so fences, leases and generations work unchanged.

let child: ChildProcess | undefined;
let port = 0;

beforeAll(async () => {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  port = (probe.address() as { port: number }).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const dir = mkdtempSync(path.join(tmpdir(), 'cdc-redis-cluster-'));
  child = spawn(
    '/usr/bin/redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--cluster-enabled',
      'yes',
      '--cluster-announce-ip',
      '127.0.0.1',
      '--cluster-config-file',
      `${dir}/nodes.conf`,
      '--dir',
      dir,
      '--save',
      '',
      '--appendonly',
      'no',
    ],
    { stdio: 'ignore' },
  );
  const deadline = Date.now() + 30_000;
  // Wait for the port, then talk to the node.
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (up) break;
    if (Date.now() > deadline) throw new Error('redis cluster node did not start');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const admin = new Redis({ port, host: '127.0.0.1' });
  await admin.call('CLUSTER', 'ADDSLOTSRANGE', '0', '16383');
  while (!String(await admin.call('CLUSTER', 'INFO')).includes('cluster_state:ok')) {
    if (Date.now() > deadline) throw new Error('cluster not ok');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  admin.disconnect();
}, 90_000);

afterAll(() => {
  child?.kill('SIGTERM');
});

describe('Redis Cluster', () => {
  it('fences, tombstones, generations and leases work through the cluster client', async () => {
    const store = new RedisStore({ url: `redis://127.0.0.1:${port}`, cluster: true, keyPrefix: 'c:' });
    try {
      await store.ping();
      const v = (n: number) =>
        fenceVersion(`0/${(0x1000 + n).toString(16)}`, `0/${(0x1000 + n).toString(16)}`);
      const refs = Array.from({ length: 50 }, (_, i) => ({ key: `c:user:${i}`, route: `c:user:${i}` }));
      await Promise.all(refs.map((ref) => store.refresh({ ...ref, version: v(2), value: '"two"' })));
      expect(
        await Promise.all(refs.map((ref) => store.refresh({ ...ref, version: v(1), value: '"one"' }))),
      ).toEqual(refs.map(() => 'stale'));
      await store.evict({ ...refs[0]!, version: v(3) });
      expect(await store.get(refs[0]!)).toBeNull();
      expect(await store.refresh({ ...refs[0]!, version: v(2), value: '"two"' })).toBe('stale');
      expect(await store.truncate('public.users', v(9))).toBe('applied');
      expect((await store.generation('public.users', refs[1]!.route)).generation).toBe(1);
      const lease = await store.lease({ key: 'c:g1@user:1', route: refs[1]!.route }, { ttlMs: 2000 });
      expect(lease.kind).toBe('granted');
      if (lease.kind === 'granted')
        expect(await store.fill(lease.lease, '"filled"', { ttlSeconds: 60 })).toBe('stored');
      expect(await store.get({ key: 'c:g1@user:1', route: refs[1]!.route })).toBe('"filled"');
    } finally {
      await store.close();
    }
  });
});
