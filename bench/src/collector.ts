/**
 * The one measuring consumer for every system: a consumer group (packages/kafka, the
 * @platformatic/kafka client the product uses) subscribed to all the run's topics before any
 * change is made. For each change event it records:
 *  - commit time: `source.commitTime` (cdc v1, ISO with ms) or `source.ts_ms` (Debezium), both
 *    PostgreSQL's commit timestamp cut to the millisecond;
 *  - receive time: when the message reached this consumer's handler (wall clock, µs
 *    resolution). A consumer only sees a message once Kafka has acknowledged it (it is below
 *    the high watermark, i.e. written to every in-sync replica), so commit -> receive is an
 *    upper bound of commit -> Kafka-acknowledged that also includes one fetch;
 *  - the Kafka record timestamp (CreateTime, set by the producer when it sends).
 * Events are routed to whatever sink each system has open (a phase of the run).
 */
import { randomBytes } from 'node:crypto';
import { type ConsumerBatch, createConsumer, createProducer, type KafkaConnection } from '@cdc-cache/kafka';
import { nowMs, progress, sleep } from './lib/log.js';

export type SystemName = 'cdc' | 'debezium';

/** What one phase of one system received. */
export class Sink {
  readonly receivedMs: number[] = [];
  readonly commitMs: number[] = [];
  readonly kafkaMs: number[] = [];
  readonly tables: string[] = [];
  readonly ops: string[] = [];
  openedAtMs = nowMs();

  constructor(readonly label: string) {}

  get count(): number {
    return this.receivedMs.length;
  }

  /** commit -> receive latencies, in ms. */
  latencies(filter?: (i: number) => boolean): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.receivedMs.length; i++) {
      if (filter && !filter(i)) continue;
      out.push(this.receivedMs[i]! - this.commitMs[i]!);
    }
    return out;
  }

  /** commit -> Kafka CreateTime, in ms. */
  createTimeLatencies(): number[] {
    return this.kafkaMs.map((k, i) => k - this.commitMs[i]!);
  }
}

interface Route {
  system: SystemName;
  table: string;
}

export class Collector {
  private readonly sinks = new Map<SystemName, Sink | null>();
  private readonly routes = new Map<string, Route>();
  private consumer: ReturnType<typeof createConsumer> | null = null;
  private probeSeen = false;
  private failure: unknown = null;
  stray = 0;
  malformed = 0;

  constructor(
    private readonly connection: KafkaConnection,
    private readonly probeTopic: string,
  ) {}

  /** A topic carries `table`'s events from `system`. */
  route(topic: string, system: SystemName, table: string): void {
    this.routes.set(topic, { system, table });
  }

  topics(): string[] {
    return [...this.routes.keys(), this.probeTopic];
  }

  open(system: SystemName, label: string): Sink {
    const sink = new Sink(label);
    this.sinks.set(system, sink);
    return sink;
  }

  close(system: SystemName): void {
    this.sinks.set(system, null);
  }

  /** Joins the group and waits until a probe message comes through (so the consumer is live). */
  async start(): Promise<void> {
    const groupId = `bench-collector-${randomBytes(4).toString('hex')}`;
    this.consumer = createConsumer(this.connection, {
      groupId,
      maxBatchSize: 5000,
      maxWaitTimeMs: 100,
      onError: (error) => {
        this.failure = error;
      },
    });
    await this.consumer.connect();
    await this.consumer.subscribe(this.topics(), { fromBeginning: true });
    await this.consumer.run(async (batch) => this.handle(batch));
    const producer = createProducer(this.connection);
    await producer.connect();
    const deadline = Date.now() + 60_000;
    try {
      while (!this.probeSeen) {
        this.check();
        if (Date.now() > deadline)
          throw new Error('the measuring consumer received no probe message within 60 s');
        await producer.send([{ topic: this.probeTopic, key: 'probe', value: 'probe' }]);
        await sleep(500);
      }
    } finally {
      await producer.disconnect();
    }
  }

  check(): void {
    if (this.failure !== null) throw new Error(`the measuring consumer failed: ${String(this.failure)}`);
  }

  /** Waits until `sink` holds at least `count` events, or `timeoutMs` passes (returns false). */
  async waitFor(sink: Sink, count: number, timeoutMs: number, what: string): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    let lastReport = Date.now();
    while (sink.count < count) {
      this.check();
      if (Date.now() > deadline) {
        progress(
          `  warning: ${what}: ${sink.count} of ${count} events after ${Math.round(timeoutMs / 1000)} s`,
        );
        return false;
      }
      if (Date.now() - lastReport > 5_000) {
        progress(`  ${what}: ${sink.count} of ${count} events`);
        lastReport = Date.now();
      }
      await sleep(20);
    }
    return true;
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect().catch(() => undefined);
    this.consumer = null;
  }

  private handle(batch: ConsumerBatch): Promise<void> {
    const received = nowMs();
    if (batch.topic === this.probeTopic) {
      this.probeSeen = true;
      return Promise.resolve();
    }
    const route = this.routes.get(batch.topic);
    const sink = route ? this.sinks.get(route.system) : null;
    if (!route || !sink) {
      this.stray += batch.messages.length;
      return Promise.resolve();
    }
    for (const message of batch.messages) {
      if (message.value === null) continue; // a tombstone
      const value = message.value.toString('utf8');
      const parsed = route.system === 'cdc' ? cdcCommit(value) : debeziumCommit(value);
      if (parsed === null) {
        this.malformed++;
        continue;
      }
      sink.receivedMs.push(received);
      sink.commitMs.push(parsed.commitMs);
      sink.kafkaMs.push(Number(message.timestamp));
      sink.tables.push(route.table);
      sink.ops.push(parsed.op);
    }
    return Promise.resolve();
  }
}

// The commit time is found with string searches rather than a full JSON.parse: the consumer
// must stay far ahead of the systems it measures on a 2-core machine.

/** cdc v1: `"op":"u"` first, then `"source":{...,"commitTime":"2026-11-20T09:15:02.113Z",...}`. */
function cdcCommit(value: string): { commitMs: number; op: string } | null {
  const at = value.indexOf('"commitTime":"');
  if (at === -1) return null;
  const commitMs = Date.parse(value.slice(at + 14, at + 38));
  const opAt = value.indexOf('"op":"');
  return Number.isNaN(commitMs) ? null : { commitMs, op: opAt === -1 ? '?' : value.charAt(opAt + 6) };
}

/** Debezium: `"source":{"version":...,"ts_ms":1732525..., ...}` (the commit time), `"op":"u"` after it. */
function debeziumCommit(value: string): { commitMs: number; op: string } | null {
  const source = value.indexOf('"source":{');
  if (source === -1) return null;
  const at = value.indexOf('"ts_ms":', source);
  if (at === -1) return null;
  let end = at + 8;
  while (end < value.length && value.charCodeAt(end) >= 48 && value.charCodeAt(end) <= 57) end++;
  const commitMs = Number(value.slice(at + 8, end));
  const opAt = value.indexOf('"op":"', end);
  return Number.isFinite(commitMs) && end > at + 8
    ? { commitMs, op: opAt === -1 ? '?' : value.charAt(opAt + 6) }
    : null;
}
