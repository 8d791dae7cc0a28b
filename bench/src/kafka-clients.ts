/**
 * Kafka client benchmark: KafkaJS vs @platformatic/kafka behind packages/kafka, same broker,
 * same run. Each round runs both clients (alternating which goes first) through:
 *  - produce: idempotent producer, acks=all, 1 KiB values, keys spread over 10k ids, a
 *    6-partition topic, sends of 500 records with up to 8 in flight (as the cdc-worker does);
 *    events/s and per-send latency (call to acknowledgement);
 *  - produce, one at a time: sends of 10 records, each awaited (a quiet stream's latency);
 *  - consume: a new group reads the topic from the beginning, committing after each batch.
 * A probe also checks each raw client (without our ordered send queue) for overlapping
 * idempotent sends to one partition: are all records written?
 *
 *   node --import tsx bench/src/kafka-clients.ts [--messages 200000] [--rounds 2] [--brokers 127.0.0.1:19092]
 *
 * Writes bench/results/<date>-kafka-clients.json.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  type KafkaClientName,
  type KafkaConnection,
  kafkaClients,
  type ProducerRecord,
} from '@cdc-cache/kafka';
import { Admin as PlatformaticAdmin, Producer as PlatformaticProducer } from '@platformatic/kafka';
import kafkajs from 'kafkajs';

const { values: args } = parseArgs({
  options: {
    messages: { type: 'string', default: '200000' },
    rounds: { type: 'string', default: '2' },
    brokers: { type: 'string', default: '127.0.0.1:19092' },
    'batch-size': { type: 'string', default: '500' },
    'in-flight': { type: 'string', default: '8' },
    out: { type: 'string' },
  },
});

const MESSAGES = Number(args.messages);
const ROUNDS = Number(args.rounds);
const BATCH = Number(args['batch-size']);
const IN_FLIGHT = Number(args['in-flight']);
const KEYS = 10_000;
const PARTITIONS = 6;
const VALUE_BYTES = 1024;
const SERIAL_SENDS = 200;
const SERIAL_BATCH = 10;
/** Records each producer sends (untimed) before measuring. */
const WARMUP_RECORDS = 10;
const connection: KafkaConnection = { brokers: args.brokers.split(','), clientId: 'bench-kafka-clients' };
const clients: KafkaClientName[] = ['kafkajs', 'platformatic'];
const runId = randomBytes(3).toString('hex');

interface ProduceResult {
  messages: number;
  seconds: number;
  eventsPerSec: number;
  sendLatencyMs: { p50: number; p99: number; max: number };
  cpuMsPer1kEvents: number;
}

interface ConsumeResult {
  messages: number;
  joinMs: number;
  seconds: number;
  eventsPerSec: number;
  batches: number;
  cpuMsPer1kEvents: number;
}

interface RoundResult {
  round: number;
  client: KafkaClientName;
  order: number;
  produce: ProduceResult;
  serialProduce: ProduceResult;
  consume: ConsumeResult;
}

/** 1 KiB values (a JSON-ish change event padded out), keys as the cdc-worker writes them. */
function makeRecords(topic: string, count: number, offset = 0): ProducerRecord[] {
  const records: ProducerRecord[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const n = offset + i;
    const key = `{"id":${n % KEYS}}`;
    const head = `{"op":"u","source":{"table":"public.bench","lsn":"0/${n.toString(16)}"},"key":${key},"after":"`;
    const value = Buffer.alloc(VALUE_BYTES, 'x');
    value.write(head);
    value.write('"}', VALUE_BYTES - 2);
    records[i] = { topic, key, value };
  }
  return records;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return round(sorted[Math.max(0, index)]!);
}

function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

function cpuMs(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1000;
}

/** Sends `records` in batches of `batch`, keeping up to `inFlight` sends outstanding. */
async function produce(
  name: KafkaClientName,
  records: ProducerRecord[],
  batch: number,
  inFlight: number,
): Promise<ProduceResult> {
  const producer = kafkaClients[name].createProducer(connection);
  await producer.connect();
  // Untimed: the first send to a new topic waits for the producer id and metadata.
  const first = records[0]!;
  await producer.send(Array.from({ length: WARMUP_RECORDS }, () => ({ ...first })));
  const latencies: number[] = [];
  const pending = new Set<Promise<void>>();
  const cpu = process.cpuUsage();
  const started = performance.now();
  let failure: unknown = null;
  for (let i = 0; i < records.length && failure === null; i += batch) {
    const sentAt = performance.now();
    const sent: Promise<void> = producer.send(records.slice(i, i + batch)).then(
      () => {
        latencies.push(performance.now() - sentAt);
        pending.delete(sent);
      },
      (error: unknown) => {
        failure = error;
        pending.delete(sent);
      },
    );
    pending.add(sent);
    if (pending.size >= inFlight) await Promise.race(pending);
  }
  await Promise.all(pending);
  if (failure !== null) throw failure;
  const seconds = (performance.now() - started) / 1000;
  const cpuUsed = cpuMs(cpu);
  await producer.disconnect();
  latencies.sort((a, b) => a - b);
  return {
    messages: records.length,
    seconds: round(seconds, 3),
    eventsPerSec: Math.round(records.length / seconds),
    sendLatencyMs: {
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      max: percentile(latencies, 100),
    },
    cpuMsPer1kEvents: round((cpuUsed / records.length) * 1000),
  };
}

/** A new group reads the topic from the beginning, committing the last offset of every batch. */
async function consume(name: KafkaClientName, topic: string, expected: number): Promise<ConsumeResult> {
  const groupId = `bench_kafka_${runId}_${name}_${randomBytes(2).toString('hex')}`;
  let failure: unknown = null;
  const consumer = kafkaClients[name].createConsumer(connection, {
    groupId,
    onError: (error) => {
      failure = error;
    },
  });
  await consumer.connect();
  await consumer.subscribe([topic], { fromBeginning: true });
  let received = 0;
  let batches = 0;
  let firstAt = 0;
  let lastAt = 0;
  let cpu = process.cpuUsage();
  const joinStarted = performance.now();
  await consumer.run(async (batch) => {
    if (firstAt === 0) {
      firstAt = performance.now();
      cpu = process.cpuUsage();
    }
    const last = batch.messages[batch.messages.length - 1];
    if (last !== undefined) await consumer.commit(batch.topic, batch.partition, last.offset);
    received += batch.messages.length;
    batches++;
    lastAt = performance.now();
  });
  const deadline = Date.now() + 300_000;
  while (received < expected && failure === null && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const cpuUsed = cpuMs(cpu);
  await consumer.disconnect();
  if (failure !== null) throw failure;
  if (received < expected)
    throw new Error(`${name} consumed ${received} of ${expected} messages in 5 minutes`);
  const seconds = (lastAt - firstAt) / 1000;
  return {
    messages: received,
    joinMs: Math.round(firstAt - joinStarted),
    seconds: round(seconds, 3),
    eventsPerSec: Math.round(received / seconds),
    batches,
    cpuMsPer1kEvents: round((cpuUsed / received) * 1000),
  };
}

async function runClient(name: KafkaClientName, roundNo: number, order: number): Promise<RoundResult> {
  const admin = kafkaClients[name].createTopicAdmin(connection);
  await admin.connect();
  const topic = `bench_kafka_${runId}_${name}_r${roundNo}`;
  const serialTopic = `${topic}_serial`;
  try {
    await admin.ensureTopics([topic, serialTopic], PARTITIONS);
    const producing = await produce(name, makeRecords(topic, MESSAGES), BATCH, IN_FLIGHT);
    const serial = await produce(
      name,
      makeRecords(serialTopic, SERIAL_SENDS * SERIAL_BATCH),
      SERIAL_BATCH,
      1,
    );
    const consuming = await consume(name, topic, MESSAGES + WARMUP_RECORDS);
    return {
      round: roundNo,
      client: name,
      order,
      produce: producing,
      serialProduce: serial,
      consume: consuming,
    };
  } finally {
    await admin.deleteTopics([topic, serialTopic]).catch(() => undefined);
    await admin.disconnect();
  }
}

/**
 * Overlapping idempotent sends straight through each client (no ordered send queue): three
 * sends of 10, 10 and 7 records to one partition at once. Are all 27 written?
 */
async function rawOverlapProbe(): Promise<
  Record<KafkaClientName, { written: number; expected: number; errors: string[] }>
> {
  const topicBase = `bench_kafka_${runId}_probe`;
  const batches = [10, 10, 7];
  const expected = batches.reduce((a, b) => a + b, 0);
  const message = (i: number) => ({ partition: 0, key: 'k', value: `v${i}` });

  const kafka = new kafkajs.Kafka({
    clientId: 'bench-probe',
    brokers: connection.brokers,
    logLevel: kafkajs.logLevel.NOTHING,
  });
  const kjAdmin = kafka.admin();
  await kjAdmin.connect();
  const kjTopic = `${topicBase}_kafkajs`;
  await kjAdmin.createTopics({ topics: [{ topic: kjTopic, numPartitions: 1, replicationFactor: -1 }] });
  const kjProducer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await kjProducer.connect();
  const kjResults = await Promise.allSettled(
    batches.map((n) =>
      kjProducer.send({
        topic: kjTopic,
        acks: -1,
        messages: Array.from({ length: n }, (_, i) => message(i)),
      }),
    ),
  );
  await kjProducer.disconnect();
  const kjWritten = Number((await kjAdmin.fetchTopicOffsets(kjTopic))[0]?.high ?? 0);
  await kjAdmin.deleteTopics({ topics: [kjTopic] });
  await kjAdmin.disconnect();

  const base = { clientId: 'bench-probe', bootstrapBrokers: connection.brokers };
  const pAdmin = new PlatformaticAdmin(base);
  const pTopic = `${topicBase}_platformatic`;
  await pAdmin.createTopics({ topics: [pTopic], partitions: 1, replicas: -1 });
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const pProducer = new PlatformaticProducer({ ...base, idempotent: true, retries: 2, retryDelay: 100 });
  const pResults = await Promise.allSettled(
    batches.map((n) =>
      pProducer.send({
        messages: Array.from({ length: n }, (_, i) => {
          const m = message(i);
          return {
            topic: pTopic,
            partition: m.partition,
            key: Buffer.from(m.key),
            value: Buffer.from(m.value),
          };
        }),
      }),
    ),
  );
  await pProducer.close();
  const listed = await pAdmin.listOffsets({
    topics: [{ name: pTopic, partitions: [{ partitionIndex: 0, timestamp: -1n }] }],
  });
  const pWritten = Number(listed[0]?.partitions[0]?.offset ?? 0n);
  await pAdmin.deleteTopics({ topics: [pTopic] });
  await pAdmin.close();

  const errorsOf = (results: PromiseSettledResult<unknown>[]) =>
    results.flatMap((r) => (r.status === 'rejected' ? [describe(r.reason)] : []));
  return {
    kafkajs: { written: kjWritten, expected, errors: errorsOf(kjResults) },
    platformatic: { written: pWritten, expected, errors: errorsOf(pResults) },
  };
}

/** The messages down an error chain, with the broker's error names (OUT_OF_ORDER_SEQUENCE_NUMBER). */
function describe(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  while (current instanceof Error && parts.length < 6) {
    const id = (current as { apiId?: unknown }).apiId ?? (current as { type?: unknown }).type;
    parts.push(typeof id === 'string' ? `${current.message} (${id})` : current.message);
    const inner = (current as { errors?: unknown[] }).errors;
    current = Array.isArray(inner) && inner.length > 0 ? inner[0] : current.cause;
  }
  return parts.join(' <- ');
}

function versionOf(pkg: string): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const file = path.resolve(here, '../../node_modules', pkg, 'package.json');
  return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : round((sorted[mid - 1]! + sorted[mid]!) / 2);
}

async function main(): Promise<void> {
  const log = (line: string) => process.stderr.write(`${line}\n`);
  log(`kafka-clients: ${MESSAGES} messages x ${ROUNDS} rounds, brokers ${connection.brokers.join(',')}`);
  log('probe: overlapping idempotent sends through the raw clients');
  const probe = await rawOverlapProbe();
  log(`  ${JSON.stringify(probe)}`);

  log('warm-up: 10000 messages per client (not recorded)');
  const savedMessages = MESSAGES;
  for (const name of clients) {
    const admin = kafkaClients[name].createTopicAdmin(connection);
    await admin.connect();
    const topic = `bench_kafka_${runId}_${name}_warmup`;
    await admin.ensureTopics([topic], PARTITIONS);
    await produce(name, makeRecords(topic, 10_000), BATCH, IN_FLIGHT);
    await consume(name, topic, 10_000 + WARMUP_RECORDS);
    await admin.deleteTopics([topic]);
    await admin.disconnect();
  }

  const rounds: RoundResult[] = [];
  for (let r = 1; r <= ROUNDS; r++) {
    const order = r % 2 === 1 ? clients : [...clients].reverse();
    for (const [i, name] of order.entries()) {
      log(`round ${r}: ${name}`);
      const result = await runClient(name, r, i + 1);
      log(
        `  produce ${result.produce.eventsPerSec}/s p50 ${result.produce.sendLatencyMs.p50} ms p99 ${result.produce.sendLatencyMs.p99} ms; ` +
          `one-at-a-time p50 ${result.serialProduce.sendLatencyMs.p50} ms p99 ${result.serialProduce.sendLatencyMs.p99} ms; ` +
          `consume ${result.consume.eventsPerSec}/s`,
      );
      rounds.push(result);
    }
  }

  const summary = Object.fromEntries(
    clients.map((name) => {
      const mine = rounds.filter((r) => r.client === name);
      return [
        name,
        {
          produceEventsPerSec: median(mine.map((r) => r.produce.eventsPerSec)),
          produceP50Ms: median(mine.map((r) => r.produce.sendLatencyMs.p50)),
          produceP99Ms: median(mine.map((r) => r.produce.sendLatencyMs.p99)),
          serialP50Ms: median(mine.map((r) => r.serialProduce.sendLatencyMs.p50)),
          serialP99Ms: median(mine.map((r) => r.serialProduce.sendLatencyMs.p99)),
          consumeEventsPerSec: median(mine.map((r) => r.consume.eventsPerSec)),
          produceCpuMsPer1k: median(mine.map((r) => r.produce.cpuMsPer1kEvents)),
          consumeCpuMsPer1k: median(mine.map((r) => r.consume.cpuMsPer1kEvents)),
        },
      ];
    }),
  );
  // Ratios per round (same round, same broker state), then their median.
  const ratio = (metric: (r: RoundResult) => number) =>
    median(
      Array.from({ length: ROUNDS }, (_, i) => {
        const p = rounds.find((r) => r.round === i + 1 && r.client === 'platformatic')!;
        const k = rounds.find((r) => r.round === i + 1 && r.client === 'kafkajs')!;
        return round(metric(p) / metric(k));
      }),
    );
  const ratios = {
    produceEventsPerSec: ratio((r) => r.produce.eventsPerSec),
    produceP99: ratio((r) => r.produce.sendLatencyMs.p99),
    serialP50: ratio((r) => r.serialProduce.sendLatencyMs.p50),
    consumeEventsPerSec: ratio((r) => r.consume.eventsPerSec),
  };

  const date = new Date().toISOString().slice(0, 10);
  const here = path.dirname(fileURLToPath(import.meta.url));
  const out = args.out ?? path.resolve(here, `../results/${date}-kafka-clients.json`);
  mkdirSync(path.dirname(out), { recursive: true });
  const report = {
    benchmark: 'kafka-clients',
    date: new Date().toISOString(),
    command: `node --import tsx bench/src/kafka-clients.ts --messages ${savedMessages} --rounds ${ROUNDS}`,
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model,
      memoryGiB: round(os.totalmem() / 2 ** 30, 1),
    },
    node: process.version,
    clients: { kafkajs: versionOf('kafkajs'), platformatic: versionOf('@platformatic/kafka') },
    workload: {
      messages: MESSAGES,
      valueBytes: VALUE_BYTES,
      keys: KEYS,
      partitions: PARTITIONS,
      recordsPerSend: BATCH,
      sendsInFlight: IN_FLIGHT,
      serial: { sends: SERIAL_SENDS, recordsPerSend: SERIAL_BATCH },
      producer:
        'packages/kafka producer: idempotent, acks=all, ordered send queue (one request in flight, overlapping sends coalesced)',
      consumer: 'packages/kafka consumer: new group from the beginning, commit after every batch',
    },
    rawOverlapProbe: probe,
    rounds,
    summary,
    ratiosPlatformaticOverKafkajs: ratios,
  };
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  log(`summary: ${JSON.stringify(summary)}`);
  log(`ratios (platformatic / kafkajs): ${JSON.stringify(ratios)}`);
  log(`wrote ${out}`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(
      `kafka-clients benchmark failed: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    process.exit(1);
  },
);
