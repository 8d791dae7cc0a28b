import type { ChangeEvent } from '@cdc-cache/core';
import {
  type ReadMessage,
  readTopics,
  type ServiceProcess,
  type Slate,
  stackAddresses,
  startService,
  writeConfig,
} from '@cdc-cache/testkit';

/** A cdc-worker config for a slate: its database, slot, publication and topic prefix. */
export function workerConfig(
  slate: Slate,
  tables: string[],
  overrides: Record<string, unknown> = {},
  port = 0,
) {
  return {
    source: {
      postgres: {
        url: slate.pgUrl,
        slot: slate.slotName,
        publication: slate.slotName,
        tables,
        heartbeatIntervalMs: 1_000,
        ...((overrides.postgres as object | undefined) ?? {}),
      },
    },
    kafka: { brokers: [...stackAddresses.kafka.brokers], topicPrefix: slate.topicPrefix, partitions: 3 },
    services: { cdcWorker: { port } },
    ...Object.fromEntries(Object.entries(overrides).filter(([name]) => name !== 'postgres')),
  };
}

export async function startWorker(config: object): Promise<ServiceProcess> {
  const path = await writeConfig(config);
  return startService('cdc-worker', path);
}

export function waitStreaming(worker: ServiceProcess, timeoutMs = 60_000) {
  return worker.waitForLog((line) => line.msg === 'streaming', timeoutMs);
}

export interface DecodedMessage extends ReadMessage {
  event: ChangeEvent;
}

/** Reads a slate's topics and parses each value as the cdc v1 envelope (plain JSON). */
export async function readEvents(
  topics: string[],
  done: (events: DecodedMessage[]) => boolean,
  timeoutMs = 60_000,
): Promise<DecodedMessage[]> {
  // Decoded once each, as they arrive: `done` runs after every batch.
  const decoded: DecodedMessage[] = [];
  let seen = 0;
  const decode = (messages: ReadMessage[]) => {
    for (; seen < messages.length; seen++) {
      const message = messages[seen]!;
      if (message.value !== null)
        decoded.push({ ...message, event: JSON.parse(message.value) as ChangeEvent });
    }
    return decoded;
  };
  const messages = await readTopics(topics, (messages) => done(decode(messages)), timeoutMs);
  return decode(messages);
}

export async function stopWorker(worker: ServiceProcess | undefined): Promise<void> {
  if (!worker || worker.child.exitCode !== null || worker.child.signalCode !== null) return;
  worker.kill('SIGTERM');
  const timer = setTimeout(() => worker.kill('SIGKILL'), 15_000);
  await worker.exited;
  clearTimeout(timer);
}

/** How many distinct rows have an event with this op (duplicates after a replay count once). */
export function distinctKeys(events: DecodedMessage[], op: string): number {
  return new Set(events.filter((e) => e.event.op === op).map((e) => JSON.stringify(e.event.key))).size;
}
