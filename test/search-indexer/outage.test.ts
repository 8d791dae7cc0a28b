import { freshSlate, type ServiceProcess, type Slate, stackAddresses } from '@cdc-cache/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorker, waitStreaming } from '../cdc-worker/worker-harness.js';
import {
  eventually,
  pipelineConfig,
  startIndexer,
  stopService,
  visibleRows,
  waitConsuming,
} from './search-harness.js';
import { type CuttableProxy, startCuttableProxy } from './tcp-proxy.js';

// Elasticsearch "dies" mid-stream for the indexer only: the shared server keeps serving the
// other test files, and the indexer reaches it through a proxy this test cuts and restores.

let slate: Slate;
let worker: ServiceProcess | undefined;
let indexer: ServiceProcess | undefined;
let proxy: CuttableProxy;
let index: string;

beforeAll(async () => {
  slate = await freshSlate('search_outage');
  index = `${slate.indexPrefix}orders`;
  await slate.db.query('CREATE TABLE orders (id int PRIMARY KEY, status text NOT NULL, total int NOT NULL)');
  proxy = await startCuttableProxy(Number(new URL(stackAddresses.elasticsearch.url).port));
  const config = pipelineConfig(
    slate,
    ['public.orders'],
    [{ table: 'public.orders', index, fields: ['status', 'total'] }],
    { elasticsearchUrl: proxy.url },
  );
  worker = await startWorker(config);
  indexer = await startIndexer(config);
  await Promise.all([waitStreaming(worker), waitConsuming(indexer)]);
});

afterAll(async () => {
  await stopService(indexer);
  await stopService(worker);
  await proxy?.close();
  await slate?.dispose();
});

async function tableRows(): Promise<Map<string, Record<string, unknown>>> {
  const { rows } = await slate.db.query<{ id: number; status: string; total: number }>(
    'SELECT * FROM orders',
  );
  return new Map(
    rows.map((row) => [
      JSON.stringify({ id: String(row.id) }),
      { status: row.status, total: String(row.total) },
    ]),
  );
}

async function readyz(): Promise<number> {
  const line = await indexer!.waitForLog((entry) => entry.msg === 'serving /metrics, /healthz, /readyz');
  return (await fetch(`http://127.0.0.1:${line.port}/readyz`)).status;
}

describe('Elasticsearch outage', () => {
  it('loses nothing while Elasticsearch is unreachable mid-stream, and recovers on its own', async () => {
    await slate.db.query(`INSERT INTO orders SELECT g, 'new', g FROM generate_series(1, 100) g`);
    await eventually(async () => (await visibleRows(index)).size === 100, '100 orders indexed');

    // A steady stream of changes; Elasticsearch goes away in the middle of it.
    let writing = true;
    let round = 0;
    const writer = (async () => {
      while (writing) {
        const id = 1 + (round % 150);
        if (round % 9 === 4) await slate.db.query('DELETE FROM orders WHERE id = $1', [id]);
        else
          await slate.db.query(
            `INSERT INTO orders VALUES ($1, 'new', $2) ON CONFLICT (id) DO UPDATE SET status = 'paid ' || $2, total = orders.total + 1`,
            [id, round],
          );
        round++;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 700));
    await proxy.cut();
    const cutAt = round;
    await indexer!.waitForLog(
      (line) => line.level === 'error' && /does not answer/.test(String(line.msg)),
      20_000,
    );
    await eventually(async () => (await readyz()) === 503, '/readyz to report Elasticsearch down', 20_000);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(round).toBeGreaterThan(cutAt); // changes kept coming while it was down
    await proxy.restore();
    await new Promise((resolve) => setTimeout(resolve, 700));
    writing = false;
    await writer;

    const want = await tableRows();
    await eventually(async () => {
      const have = await visibleRows(index);
      return (
        have.size === want.size &&
        [...want].every(([id, row]) => JSON.stringify(have.get(id)) === JSON.stringify(row))
      );
    }, 'the index to equal the table after the outage');
    expect(await visibleRows(index)).toEqual(want);
    await indexer!.waitForLog((line) => line.msg === 'Elasticsearch answers again');
    await eventually(async () => (await readyz()) === 200, '/readyz to report ready again');
    // It recovered alone: same process, never restarted.
    expect(indexer!.child.exitCode).toBeNull();
  });
});
