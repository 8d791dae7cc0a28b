import { requestSnapshot } from '@cdc-cache/pg-source';
import { freshSlate, type ServiceProcess, type Slate } from '@cdc-cache/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorker, waitStreaming } from '../cdc-worker/worker-harness.js';
import {
  es,
  eventually,
  generationsOf,
  pipelineConfig,
  startIndexer,
  stopService,
  visibleRows,
  waitConsuming,
} from './search-harness.js';

const ROWS = 300;

let slate: Slate;
let worker: ServiceProcess | undefined;
let indexer: ServiceProcess | undefined;
let index: string;

beforeAll(async () => {
  slate = await freshSlate('search_reindex');
  index = `${slate.indexPrefix}items`;
  await slate.db.query('CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, n int NOT NULL)');
  await slate.db.query(`INSERT INTO items SELECT g, 'item ' || g, 0 FROM generate_series(1, ${ROWS}) g`);
  const config = pipelineConfig(
    slate,
    ['public.items'],
    [{ table: 'public.items', index, fields: ['name', 'n'] }],
  );
  worker = await startWorker(config);
  indexer = await startIndexer(config);
  await Promise.all([waitStreaming(worker), waitConsuming(indexer)]);
});

afterAll(async () => {
  await stopService(indexer);
  await stopService(worker);
  await slate?.dispose();
});

/** The table as the index should show it: configured fields as pg's text output, by document id. */
async function tableRows(): Promise<Map<string, Record<string, unknown>>> {
  const { rows } = await slate.db.query<{ id: number; name: string; n: number }>(
    'SELECT id, name, n FROM items',
  );
  return new Map(
    rows.map((row) => [JSON.stringify({ id: String(row.id) }), { name: row.name, n: String(row.n) }]),
  );
}

describe('re-snapshot', () => {
  it('rebuilds the index under a concurrent write load: alias swapped, no document lost or stale', async () => {
    await eventually(async () => (await visibleRows(index)).size === ROWS, `${ROWS} documents indexed`);
    const [first] = await generationsOf(index);
    // Drift the re-snapshot must repair: a document whose row does not exist (written behind the
    // indexer's back, as a lost delete would leave it).
    await es(
      'PUT',
      `/${first}--w/_doc/${encodeURIComponent('{"id":"99999"}')}?version=1&version_type=external_gte`,
      {
        name: 'stray',
        n: '0',
      },
    );
    expect((await visibleRows(index)).has('{"id":"99999"}')).toBe(true);

    // Writers update, delete and insert rows all through the rebuild.
    let writing = true;
    let writes = 0;
    const writer = (async () => {
      let round = 0;
      while (writing) {
        const id = 1 + ((round * 7_919) % (ROWS + 100));
        if (round % 7 === 3) await slate.db.query('DELETE FROM items WHERE id = $1', [id]);
        else {
          await slate.db.query(
            `INSERT INTO items VALUES ($1, $2, $3) ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, n = items.n + 1`,
            [id, `item ${id} round ${round}`, round],
          );
        }
        round++;
        writes++;
        await new Promise((resolve) => setTimeout(resolve, 3));
      }
    })();
    // No downtime: the alias answers with a full index all along.
    let sampling = true;
    let fewest = Number.POSITIVE_INFINITY;
    const sampler = (async () => {
      while (sampling) {
        const { count } = await es<{ count: number }>('GET', `/${index}/_count`);
        fewest = Math.min(fewest, count);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();

    const request = await requestSnapshot(slate.db, slate.slotName, 'public.items');
    await indexer!.waitForLog(
      (line) =>
        line.msg === 'rebuild: alias swapped to the new generation' &&
        line.generation === `${index}--r${request}`,
      50_000,
    );
    // Keep writing a moment after the swap, then let everything settle.
    await new Promise((resolve) => setTimeout(resolve, 500));
    writing = false;
    await writer;
    sampling = false;
    await sampler;
    expect(writes).toBeGreaterThan(100);

    const want = await tableRows();
    await eventually(async () => {
      const have = await visibleRows(index);
      return (
        have.size === want.size &&
        [...want].every(([id, row]) => JSON.stringify(have.get(id)) === JSON.stringify(row))
      );
    }, 'the index to equal the table');
    expect(await visibleRows(index)).toEqual(want);
    expect((await visibleRows(index)).has('{"id":"99999"}')).toBe(false);

    // One generation behind the alias, a new one; the old one is deleted.
    const generations = await generationsOf(index);
    expect(generations).toHaveLength(1);
    expect(generations[0]).not.toBe(first);
    const all = await es<{ index: string }[]>('GET', `/_cat/indices/${index}--*?format=json&h=index`);
    expect(all.map((entry) => entry.index)).toEqual(generations);
    expect(fewest).toBeGreaterThan(ROWS / 2);
  });
});
