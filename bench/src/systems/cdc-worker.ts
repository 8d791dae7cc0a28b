/** Starts and stops the cdc-worker as the product runs it: a real process with a YAML config. */
import { type ServiceProcess, startService, writeConfig } from '@cdc-cache/testkit';
import { errorText, progress } from '../lib/log.js';

export interface CdcWorkerSpec {
  pgUrl: string;
  slot: string;
  publication: string;
  tables: string[];
  brokers: string[];
  topicPrefix: string;
  partitions: number;
  snapshot: 'initial' | 'never';
  snapshotBatchSize?: number;
}

export function cdcWorkerConfig(spec: CdcWorkerSpec): object {
  return {
    source: {
      postgres: {
        url: spec.pgUrl,
        slot: spec.slot,
        publication: spec.publication,
        tables: spec.tables,
        snapshot: {
          mode: spec.snapshot,
          ...(spec.snapshotBatchSize ? { batchSize: spec.snapshotBatchSize } : {}),
        },
      },
    },
    kafka: { brokers: spec.brokers, topicPrefix: spec.topicPrefix, partitions: spec.partitions },
    services: { cdcWorker: { port: 0 } },
    log: { level: 'info' },
  };
}

export interface RunningWorker {
  process: ServiceProcess;
  pid: number;
  metricsPort: number | null;
  config: object;
  stop(): Promise<void>;
}

export async function startCdcWorker(spec: CdcWorkerSpec): Promise<RunningWorker> {
  const config = cdcWorkerConfig(spec);
  const configPath = await writeConfig(config);
  const service = startService('cdc-worker', configPath, { LOG_LEVEL: 'info' });
  const pid = service.child.pid ?? 0;
  const serving = await service.waitForLog((line) => typeof line.port === 'number', 60_000);
  return {
    process: service,
    pid,
    metricsPort: typeof serving.port === 'number' ? serving.port : null,
    config,
    async stop() {
      if (service.child.exitCode !== null || service.child.signalCode !== null) return;
      service.kill('SIGTERM');
      const timer = setTimeout(() => service.kill('SIGKILL'), 15_000);
      await service.exited;
      clearTimeout(timer);
    },
  };
}

export function waitStreaming(worker: RunningWorker, timeoutMs = 60_000): Promise<unknown> {
  return worker.process.waitForLog((line) => line.msg === 'streaming', timeoutMs);
}

/** The worker's own commit -> Kafka-ack histogram (cdc_cache_commit_to_kafka_seconds), as a cross-check. */
export async function scrapeCommitToKafka(
  worker: RunningWorker,
): Promise<{ buckets: { le: number; count: number }[]; count: number; sum: number } | null> {
  if (worker.metricsPort === null) return null;
  try {
    const text = await (await fetch(`http://127.0.0.1:${worker.metricsPort}/metrics`)).text();
    const buckets: { le: number; count: number }[] = [];
    let count = 0;
    let sum = 0;
    for (const line of text.split('\n')) {
      if (!line.startsWith('cdc_cache_commit_to_kafka_seconds')) continue;
      const value = Number(line.slice(line.lastIndexOf(' ') + 1));
      const le = /le="([^"]+)"/.exec(line)?.[1];
      if (line.startsWith('cdc_cache_commit_to_kafka_seconds_bucket') && le !== undefined) {
        buckets.push({ le: le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le), count: value });
      } else if (line.startsWith('cdc_cache_commit_to_kafka_seconds_count')) count += value;
      else if (line.startsWith('cdc_cache_commit_to_kafka_seconds_sum')) sum += value;
    }
    return { buckets, count, sum };
  } catch (error) {
    progress(`  (could not read the worker's /metrics: ${errorText(error)})`);
    return null;
  }
}
