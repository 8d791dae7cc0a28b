/**
 * Search-indexer benchmark: documents per second into the local Elasticsearch, two ways.
 *
 *  - sink: change events handed straight to the SearchSink in-process, six "partitions" at
 *    once (each row in one partition, in order), as the indexer does with Kafka batches. This
 *    is the Elasticsearch side alone: bulk requests with external versions.
 *  - service: the same events written to a Kafka topic first; then the search-indexer service
 *    starts as a real process with a new consumer group and is timed from "consuming" until its
 *    /metrics count every event as handled (and again from the process start, which adds index
 *    creation, Kafka connection and the group join). This is Kafka -> Elasticsearch, offset
 *    commits included.
 *
 * Events: ~70% inserts of new rows, ~25% updates, ~5% deletes, three text fields of ~150
 * bytes; one transaction per change. The index is a fresh one (1 shard) for each run.
 *
 *   node --import tsx bench/src/search-indexer.ts [--events 50000] [--bulk 1000] [--rounds 2] [--out file]
 *
 * Writes bench/results/<date>-search-indexer.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type ChangeEvent, cdcV1, createEventEncoder, formatLsn } from '@cdc-cache/core';
import { createProducer, createTopicAdmin, partitionForKey } from '@cdc-cache/kafka';
import { convertValue } from '@cdc-cache/pg-source';
import { createSourcePool, Elasticsearch, PostgresRowSource, SearchSink } from '@cdc-cache/search-sink';
import {
  freshSlate,
  type ServiceProcess,
  type Slate,
  stackAddresses,
  startService,
  writeConfig,
} from '@cdc-cache/testkit';

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '50000' },
    bulk: { type: 'string', default: '1000' },
    rounds: { type: 'string', default: '2' },
    out: { type: 'string' },
  },
});
const EVENTS = Number(args.events);
const BULK = Number(args.bulk);
const ROUNDS = Number(args.rounds);
const PARTITIONS = 6;
const ES_URL = stackAddresses.elasticsearch.url;
const here = path.dirname(fileURLToPath(import.meta.url));

/** A deterministic workload: the events and how many documents remain. */
function workload(table: string): { events: ChangeEvent[]; live: number } {
  let seed = 7;
  const next = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const words = ['lamp', 'chair', 'oak', 'steel', 'blue', 'vintage', 'table', 'shelf', 'linen', 'brass'];
  const text = (n: number) =>
    Array.from({ length: n }, () => words[Math.floor(next() * words.length)]).join(' ');
  const events: ChangeEvent[] = [];
  const alive: number[] = [];
  let nextId = 1;
  let lsn = 0x1_0000_0000n;
  for (let i = 0; i < EVENTS; i++) {
    const roll = next();
    let op: 'c' | 'u' | 'd' = 'c';
    let id = nextId;
    if (alive.length > 100 && roll > 0.95) {
      op = 'd';
      const at = Math.floor(next() * alive.length);
      id = alive[at]!;
      alive[at] = alive.at(-1)!;
      alive.pop();
    } else if (alive.length > 100 && roll > 0.7) {
      op = 'u';
      id = alive[Math.floor(next() * alive.length)]!;
    } else {
      nextId++;
      alive.push(id);
    }
    lsn += 0x200n;
    const key = { id: String(id) };
    events.push({
      op,
      source: {
        db: 'bench',
        schema: 'public',
        table,
        lsn: formatLsn(lsn - 0x100n),
        commitLsn: formatLsn(lsn),
        txId: i + 1,
        commitTime: new Date().toISOString(),
        seq: 0,
      },
      key,
      before: op === 'd' ? key : null,
      after:
        op === 'd'
          ? null
          : { id: String(id), title: text(4), body: text(20), price: (next() * 1000).toFixed(2) },
      unchangedToast: [],
    });
  }
  return { events, live: alive.length };
}

async function es<T>(method: string, url: string, body?: unknown): Promise<T> {
  const response = await fetch(`${ES_URL}${url}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? null : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${method} ${url}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

async function count(index: string): Promise<number> {
  await es('POST', `/${index}/_refresh`);
  return (await es<{ count: number }>('GET', `/${index}/_count`)).count;
}

const indexSpec = (slate: Slate, name: string) => ({
  table: 'public.docs',
  index: `${slate.indexPrefix}${name}`,
  fields: ['title', 'body', 'price'],
});

async function sinkRun(slate: Slate, round: number, events: ChangeEvent[], live: number) {
  const spec = indexSpec(slate, `sink${round}`);
  const pool = createSourcePool(slate.pgUrl);
  const bulks: number[] = [];
  const sink = new SearchSink({
    es: new Elasticsearch({ node: ES_URL }),
    indexes: [spec],
    valueMode: 'text',
    rows: new PostgresRowSource(pool, (text, oid) => convertValue(text, oid, 'text')),
    bulkActions: BULK,
    metrics: {
      documents: { inc: () => undefined },
      bulkSeconds: { observe: (seconds) => bulks.push(seconds) },
    },
  });
  await sink.start();
  // Kafka's partitioning: each row in one partition, in order; partitions run concurrently.
  const lanes: ChangeEvent[][] = Array.from({ length: PARTITIONS }, () => []);
  for (const event of events) lanes[partitionForKey(JSON.stringify(event.key), PARTITIONS)]!.push(event);
  const started = performance.now();
  await Promise.all(
    lanes.map(async (lane) => {
      for (let at = 0; at < lane.length; at += 1000) await sink.apply(lane.slice(at, at + 1000));
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await sink.close();
  await pool.end();
  const documents = await count(spec.index);
  if (documents !== live) throw new Error(`sink run: ${documents} documents, expected ${live}`);
  bulks.sort((a, b) => a - b);
  return {
    events: events.length,
    seconds: round3(seconds),
    eventsPerSec: Math.round(events.length / seconds),
    bulks: bulks.length,
    bulkP50Ms: round3(quantile(bulks, 0.5) * 1000),
    bulkP99Ms: round3(quantile(bulks, 0.99) * 1000),
  };
}

async function serviceRun(slate: Slate, round: number, events: ChangeEvent[], live: number) {
  const spec = indexSpec(slate, `service${round}`);
  const topicPrefix = `${slate.topicPrefix}_r${round}`;
  const connection = { brokers: [...stackAddresses.kafka.brokers], clientId: 'bench-search-indexer' };
  const admin = createTopicAdmin(connection);
  const producer = createProducer(connection);
  await admin.connect();
  await producer.connect();
  const encoder = createEventEncoder({ envelope: cdcV1.envelope, topicPrefix });
  await admin.ensureTopics([encoder.topic(events[0]!)], PARTITIONS);
  for (let at = 0; at < events.length; at += 2000) {
    await producer.send(events.slice(at, at + 2000).flatMap((event) => encoder.records(event, PARTITIONS)));
  }
  await producer.disconnect();
  await admin.disconnect();

  const config = await writeConfig({
    source: { postgres: { url: slate.pgUrl, slot: slate.slotName, tables: ['public.docs'] } },
    kafka: { brokers: [...stackAddresses.kafka.brokers], topicPrefix, partitions: PARTITIONS },
    search: { elasticsearch: { node: ES_URL }, indexes: [spec] },
    services: { searchIndexer: { port: 0, groupId: `${topicPrefix}-bench` } },
  });
  const spawned = performance.now();
  const indexer: ServiceProcess = startService('search-indexer', config, { LOG_LEVEL: 'info' });
  try {
    const serving = await indexer.waitForLog((line) => line.msg === 'serving /metrics, /healthz, /readyz');
    await indexer.waitForLog((line) => line.msg === 'consuming', 60_000);
    const started = performance.now();
    const metricsUrl = `http://127.0.0.1:${serving.port}/metrics`;
    let handled = 0;
    while (handled < events.length) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      const text = await (await fetch(metricsUrl)).text();
      handled = text
        .split('\n')
        .filter((line) => line.startsWith('cdc_cache_search_documents_total{'))
        .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
      if (performance.now() - started > 600_000)
        throw new Error(`service run: only ${handled} handled after 10 min`);
    }
    const seconds = (performance.now() - started) / 1000;
    const documents = await count(spec.index);
    if (documents !== live) throw new Error(`service run: ${documents} documents, expected ${live}`);
    // From the process start: index creation, Kafka connection and the group join included.
    const withStartup = (performance.now() - spawned) / 1000;
    return {
      events: events.length,
      seconds: round3(seconds),
      eventsPerSec: Math.round(events.length / seconds),
      secondsFromProcessStart: round3(withStartup),
      eventsPerSecFromProcessStart: Math.round(events.length / withStartup),
    };
  } finally {
    indexer.kill('SIGTERM');
    await indexer.exited;
  }
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}

const slate = await freshSlate('bench_search');
try {
  await slate.db.query('CREATE TABLE docs (id int PRIMARY KEY, title text, body text, price numeric(10,2))');
  const { events, live } = workload('docs');
  const results: { round: number; sink: object; service: object }[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const sink = await sinkRun(slate, round, events, live);
    process.stdout.write(`round ${round} sink:    ${JSON.stringify(sink)}\n`);
    const service = await serviceRun(slate, round, events, live);
    process.stdout.write(`round ${round} service: ${JSON.stringify(service)}\n`);
    results.push({ round, sink, service });
  }
  const report = {
    benchmark: 'search-indexer',
    date: new Date().toISOString(),
    machine: {
      cpus: os.cpus().length,
      model: os.cpus()[0]?.model ?? 'unknown',
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    },
    settings: { events: EVENTS, liveDocuments: live, bulkActions: BULK, partitions: PARTITIONS },
    results,
  };
  const out =
    args.out ??
    path.join(here, '..', 'results', `${new Date().toISOString().slice(0, 10)}-search-indexer.json`);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`wrote ${out}\n`);
} finally {
  await slate.dispose();
}
