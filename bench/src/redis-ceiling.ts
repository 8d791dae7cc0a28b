/**
 * The ceiling the cache-invalidator's Redis ops/s is compared with: redis-benchmark (Debian's
 * redis-tools) on the same Redis, with the operations an invalidator sends: SET (refresh),
 * DEL (evict) and a small EVAL (the version-fenced write is one Lua script), each one at a
 * time per connection and pipelined 16 deep. Keys are `<prefix>rb:<n>` and deleted afterwards.
 */
import { stackAddresses } from '@cdc-cache/testkit';
import { progress } from './lib/log.js';
import { run, runOk } from './lib/proc.js';

export interface RedisCeilingRow {
  op: string;
  pipeline: number;
  clients: number;
  requests: number;
  opsPerSec: number;
  p50Ms: number | null;
  p99Ms: number | null;
}

export async function redisCeiling(
  redisBenchmark: string,
  keyPrefix: string,
  requests: number,
): Promise<RedisCeilingRow[]> {
  const port = String(new URL(stackAddresses.redis.url).port);
  const key = `${keyPrefix}rb:__rand_int__`;
  const value = 'x'.repeat(200);
  const ops: { op: string; command: string[] }[] = [
    { op: 'SET', command: ['SET', key, value] },
    { op: 'DEL', command: ['DEL', key] },
    {
      op: 'EVAL (fenced SET)',
      command: [
        'EVAL',
        "local v = redis.call('GET', KEYS[1]) if v == false or v < ARGV[1] then redis.call('SET', KEYS[1], ARGV[1]) end return 1",
        '1',
        key,
        '0000000100000000',
      ],
    },
  ];
  const rows: RedisCeilingRow[] = [];
  for (const { op, command } of ops) {
    for (const pipeline of [1, 16]) {
      const clients = 50;
      const args = [
        '-h',
        '127.0.0.1',
        '-p',
        port,
        '-n',
        String(requests),
        '-r',
        '100000',
        '-c',
        String(clients),
        '-P',
        String(pipeline),
        '--csv',
        ...command,
      ];
      const result = await runOk(redisBenchmark, args, { timeoutMs: 120_000 });
      // "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
      const line = result.stdout.trim().split('\n').pop() ?? '';
      const cells = line.split('","').map((c) => c.replace(/"/g, ''));
      const row: RedisCeilingRow = {
        op,
        pipeline,
        clients,
        requests,
        opsPerSec: Math.round(Number(cells[1])),
        p50Ms: cells[4] !== undefined ? Number(cells[4]) : null,
        p99Ms: cells[6] !== undefined ? Number(cells[6]) : null,
      };
      rows.push(row);
      progress(`  redis-benchmark ${op}, pipeline ${pipeline}: ${row.opsPerSec} ops/s`);
    }
  }
  // Remove the keys (a Lua loop over KEYS is fine for the ~100k keys of this prefix).
  await run('redis-cli', [
    '-h',
    '127.0.0.1',
    '-p',
    port,
    'EVAL',
    "local n = 0 for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('UNLINK', k) n = n + 1 end return n",
    '0',
    `${keyPrefix}rb:*`,
  ]);
  return rows;
}
