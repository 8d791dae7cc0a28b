/**
 * Debezium Server 2.7 (io.debezium:debezium-server-dist, unpacked by setup.ts) with the Kafka
 * sink and the PostgreSQL connector on pgoutput, started as `run.sh` does (java -cp runner.jar:
 * conf:lib/* io.debezium.server.Main), with its configuration in <run dir>/config/
 * application.properties and its offsets in a file.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePort } from '../lib/proc.js';

export interface DebeziumSpec {
  home: string;
  java: string;
  runDir: string;
  version: string;
  pg: { host: string; port: number; user: string; database: string };
  brokers: string[];
  topicPrefix: string;
  slot: string;
  publication: string;
  /** Regular expressions of schema.table, as table.include.list takes them. */
  tableIncludeList: string[];
  snapshotMode: 'no_data' | 'initial';
  /** Extra or overriding properties (full names, such as debezium.source.max.batch.size). */
  overrides?: Record<string, string>;
}

/**
 * The configuration both systems are compared under. Debezium's defaults are kept except
 * where they would make the comparison unfair or differ from the cdc-worker's guarantees:
 *  - producer acks=all and idempotence on (the cdc-worker's producer);
 *  - offsets flushed after every batch (offset.flush.interval.ms=0, as the shipped example
 *    does): Debezium confirms an LSN to PostgreSQL only for what Kafka acknowledged, as the
 *    cdc-worker does;
 *  - JSON without the embedded schema (the cdc envelope carries none) and no tombstones after
 *    deletes (one message per change on both sides);
 *  - poll.interval.ms=10 instead of 500: with the default, the queue waits up to 500 ms for a
 *    full batch when changes trickle in, which would add up to half a second to every
 *    latency figure at low load;
 *  - producer batch.size 256 KiB (default 16 KiB), so that a batch of 2048 changes does not
 *    go out as hundreds of small requests.
 */
export function debeziumProperties(spec: DebeziumSpec, httpPort: number): Record<string, string> {
  return {
    'debezium.sink.type': 'kafka',
    'debezium.sink.kafka.producer.bootstrap.servers': spec.brokers.join(','),
    'debezium.sink.kafka.producer.key.serializer': 'org.apache.kafka.common.serialization.StringSerializer',
    'debezium.sink.kafka.producer.value.serializer': 'org.apache.kafka.common.serialization.StringSerializer',
    'debezium.sink.kafka.producer.acks': 'all',
    'debezium.sink.kafka.producer.enable.idempotence': 'true',
    'debezium.sink.kafka.producer.batch.size': '262144',
    'debezium.source.connector.class': 'io.debezium.connector.postgresql.PostgresConnector',
    'debezium.source.offset.storage.file.filename': path.join(spec.runDir, 'offsets.dat'),
    'debezium.source.offset.flush.interval.ms': '0',
    'debezium.source.database.hostname': spec.pg.host,
    'debezium.source.database.port': String(spec.pg.port),
    'debezium.source.database.user': spec.pg.user,
    'debezium.source.database.password': '',
    'debezium.source.database.dbname': spec.pg.database,
    'debezium.source.topic.prefix': spec.topicPrefix,
    'debezium.source.plugin.name': 'pgoutput',
    'debezium.source.slot.name': spec.slot,
    'debezium.source.publication.name': spec.publication,
    'debezium.source.publication.autocreate.mode': 'disabled',
    'debezium.source.table.include.list': spec.tableIncludeList.join(','),
    'debezium.source.snapshot.mode': spec.snapshotMode,
    'debezium.source.tombstones.on.delete': 'false',
    // pgoutput hands Debezium every logical decoding message in the database (the cdc-worker's
    // heartbeats and snapshot watermarks); they are not changes of the captured tables.
    'debezium.source.message.prefix.exclude.list': '.*',
    'debezium.source.poll.interval.ms': '10',
    'debezium.format.value': 'json',
    'debezium.format.key': 'json',
    'debezium.format.value.schemas.enable': 'false',
    'debezium.format.key.schemas.enable': 'false',
    'quarkus.http.port': String(httpPort),
    'quarkus.http.host': '127.0.0.1',
    'quarkus.log.level': 'INFO',
    'quarkus.log.console.json': 'false',
    ...spec.overrides,
  };
}

export interface RunningDebezium {
  child: ChildProcess;
  pid: number;
  properties: Record<string, string>;
  /** Output lines, most recent last (bounded). */
  lines: string[];
  exited: Promise<number | string>;
  /** Resolves with the first output line that matches. */
  waitForLine(match: RegExp, timeoutMs: number): Promise<string>;
  stop(): Promise<void>;
}

export async function startDebezium(spec: DebeziumSpec): Promise<RunningDebezium> {
  mkdirSync(path.join(spec.runDir, 'config'), { recursive: true });
  const httpPort = await freePort();
  const properties = debeziumProperties(spec, httpPort);
  writeFileSync(
    path.join(spec.runDir, 'config', 'application.properties'),
    `${Object.entries(properties)
      .map(([k, v]) => `${k}=${v.replace(/\\/g, '\\\\')}`)
      .join('\n')}\n`,
  );
  const runner = path.join(spec.home, `debezium-server-dist-${spec.version}-runner.jar`);
  const classpath = [runner, path.join(spec.home, 'conf'), path.join(spec.home, 'lib', '*')].join(':');
  const child = spawn(spec.java, ['-cp', classpath, 'io.debezium.server.Main'], {
    cwd: spec.runDir,
    env: { ...process.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const logFile = createWriteStream(path.join(spec.runDir, 'debezium.log'), { flags: 'a' });
  const watchers = new Set<(line: string) => void>();
  for (const stream of [child.stdout, child.stderr]) {
    let buffered = '';
    stream?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const parts = buffered.split('\n');
      buffered = parts.pop() ?? '';
      for (const line of parts) {
        logFile.write(`${line}\n`);
        lines.push(line);
        if (lines.length > 400) lines.shift();
        for (const watcher of watchers) watcher(line);
      }
    });
  }
  const exited = new Promise<number | string>((resolve) => {
    child.on('exit', (code, signal) => {
      logFile.end();
      resolve(code ?? signal ?? -1);
    });
  });
  const running: RunningDebezium = {
    child,
    pid: child.pid ?? 0,
    properties,
    lines,
    exited,
    waitForLine(match, timeoutMs) {
      const found = lines.find((line) => match.test(line));
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          watchers.delete(watcher);
          reject(
            new Error(
              `Debezium Server printed no line matching ${match} within ${timeoutMs} ms:\n${lines.slice(-15).join('\n')}`,
            ),
          );
        }, timeoutMs);
        const watcher = (line: string) => {
          if (!match.test(line)) return;
          clearTimeout(timer);
          watchers.delete(watcher);
          resolve(line);
        };
        watchers.add(watcher);
        void exited.then((code) => {
          if (!watchers.has(watcher)) return;
          clearTimeout(timer);
          watchers.delete(watcher);
          reject(new Error(`Debezium Server exited (${code}):\n${lines.slice(-20).join('\n')}`));
        });
      });
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    },
  };
  return running;
}

/** Errors Debezium printed (to explain a phase that saw no events). */
export function debeziumErrors(running: RunningDebezium): string[] {
  return running.lines.filter((line) => / ERROR /.test(line)).slice(-5);
}
