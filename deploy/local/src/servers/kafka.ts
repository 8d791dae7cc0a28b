import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { StackError } from '../errors.js';
import { runLogged, runMaven } from '../install.js';
import { checkJava, javaHome } from '../java.js';
import { REPO_ROOT } from '../paths.js';
import {
  HOST,
  KAFKA_CONTROLLER_PORT,
  KAFKA_FAULT_LISTENER_PORT,
  KAFKA_FAULT_PROXY_PORT,
  PORTS,
} from '../ports.js';
import { probeFailure, tcpExchange } from '../probes.js';
import { renderProperties } from '../template.js';
import { decodeMetadataResponse, encodeMetadataRequest, frameComplete } from './kafka-protocol.js';
import type { ServerContext, ServerDef } from './types.js';

export const KAFKA_POM = path.join(REPO_ROOT, 'deploy', 'local', 'kafka', 'pom.xml');
const NODE_ID = 1;
/** Heap: enough for tests and the benchmark on one partition per topic, small enough for a laptop. */
const KAFKA_HEAP = ['-Xms256m', '-Xmx768m'];

/** A `<properties>` value of a POM (the Kafka version lives in the POM only). */
export function pomProperty(pom: string, name: string): string | null {
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`<${escaped}>\\s*([^<\\s]+)\\s*</${escaped}>`).exec(pom)?.[1] ?? null;
}

export function kafkaVersion(): string {
  const version = pomProperty(readFileSync(KAFKA_POM, 'utf8'), 'kafka.version');
  if (!version) throw new StackError(`no <kafka.version> in ${KAFKA_POM}`, 'kafka');
  return version;
}

function kafkaHome(ctx: ServerContext): string {
  return path.join(ctx.layout.opt, `kafka-${kafkaVersion()}`);
}

/** The broker version from the jar that is actually installed (kafka_2.13-<version>.jar). */
export function versionFromJarNames(names: readonly string[]): string | null {
  for (const name of names) {
    const m = /^kafka_2\.1[0-9]-(.+)\.jar$/.exec(name);
    if (m?.[1]) return m[1];
  }
  return null;
}

/**
 * A single KRaft node that is both broker and controller. Internal topics have replication factor 1
 * (one broker), so transactions and the idempotent producer work. Topic auto-creation is off: the
 * cdc-worker creates its topics explicitly, as it must against a production cluster.
 */
export function renderKafkaProperties(options: {
  dataDir: string;
  port: number;
  controllerPort: number;
}): string {
  return renderProperties({
    'process.roles': 'broker,controller',
    'node.id': NODE_ID,
    'controller.quorum.voters': `${NODE_ID}@${HOST}:${options.controllerPort}`,
    listeners: `PLAINTEXT://${HOST}:${options.port},CONTROLLER://${HOST}:${options.controllerPort},FAULT://${HOST}:${KAFKA_FAULT_LISTENER_PORT}`,
    'advertised.listeners': `PLAINTEXT://${HOST}:${options.port},FAULT://${HOST}:${KAFKA_FAULT_PROXY_PORT}`,
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,FAULT:PLAINTEXT',
    'log.dirs': options.dataDir,
    'num.partitions': 1,
    'default.replication.factor': 1,
    'min.insync.replicas': 1,
    'offsets.topic.replication.factor': 1,
    'transaction.state.log.replication.factor': 1,
    'transaction.state.log.min.isr': 1,
    'share.coordinator.state.topic.replication.factor': 1,
    'share.coordinator.state.topic.min.isr': 1,
    'auto.create.topics.enable': false,
    'delete.topic.enable': true,
    // Consumer groups in tests should not sit out the default 3 s before their first assignment.
    'group.initial.rebalance.delay.ms': 0,
    'log.retention.hours': 24,
  });
}

/** Console-only logging: the stack captures stdout into logs/kafka.log. */
const LOG4J2_PROPERTIES = `${[
  'status = warn',
  'appender.console.type = Console',
  'appender.console.name = console',
  'appender.console.layout.type = PatternLayout',
  'appender.console.layout.pattern = [%d] %p %m (%c)%n',
  'rootLogger.level = info',
  'rootLogger.appenderRef.console.ref = console',
  // The full config dump at every start is noise in our log.
  'logger.config.name = org.apache.kafka.common.config.AbstractConfig',
  'logger.config.level = warn',
  // Per-partition lines (several per partition created or deleted) would flood it under tests and benchmarks.
  'logger.statechange.name = state.change.logger',
  'logger.statechange.level = warn',
  'logger.partition.name = kafka.cluster.Partition',
  'logger.partition.level = warn',
  'logger.logloader.name = org.apache.kafka.storage.internals.log',
  'logger.logloader.level = warn',
  'logger.logmanager.name = kafka.log.LogManager',
  'logger.logmanager.level = warn',
  'logger.controller.name = org.apache.kafka.controller',
  'logger.controller.level = warn',
].join('\n')}\n`;

/** Kafka's cluster id: 16 random bytes, base64url without padding (never starting with '-'). */
export function newClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

function javaArgs(ctx: ServerContext, extra: string[]): string[] {
  return [
    '-XX:+UseG1GC',
    '-XX:MaxGCPauseMillis=20',
    '-XX:InitiatingHeapOccupancyPercent=35',
    '-XX:+ExitOnOutOfMemoryError',
    '-Djava.awt.headless=true',
    `-Dlog4j2.configurationFile=${path.join(ctx.layout.conf, 'kafka', 'log4j2.properties')}`,
    '-cp',
    `${path.join(kafkaHome(ctx), 'lib')}/*`,
    ...extra,
  ];
}

async function metadata() {
  const frame = await tcpExchange(PORTS.kafka, encodeMetadataRequest(1), frameComplete);
  return decodeMetadataResponse(frame);
}

export const kafka: ServerDef = {
  name: 'kafka',
  ports: [PORTS.kafka, KAFKA_CONTROLLER_PORT],
  startTimeoutMs: 90_000,
  debPackages: [],
  tools: ['java', 'mvn'],

  async install(ctx) {
    checkJava();
    const home = kafkaHome(ctx);
    const stamp = path.join(home, '.installed');
    if (existsSync(stamp)) return;
    const version = kafkaVersion();
    ctx.log(`fetching Kafka ${version} jars from Maven Central (mvn dependency:copy-dependencies)`);
    const partial = `${home}.partial`;
    rmSync(partial, { recursive: true, force: true });
    mkdirSync(partial, { recursive: true });
    await runMaven(
      [
        '-f',
        KAFKA_POM,
        'dependency:copy-dependencies',
        '-DincludeScope=runtime',
        `-DoutputDirectory=${path.join(partial, 'lib')}`,
      ],
      path.join(ctx.layout.logs, 'install.log'),
      'kafka',
    );
    if (!versionFromJarNames(readdirSync(path.join(partial, 'lib')))) {
      throw new StackError(
        `kafka: Maven finished but no kafka_2.13-${version}.jar in ${partial}/lib`,
        'kafka',
      );
    }
    writeFileSync(path.join(partial, '.installed'), `${version}\n`);
    rmSync(home, { recursive: true, force: true });
    renameSync(partial, home);
  },

  async prepare(ctx) {
    const dataDir = ctx.dir('data', 'kafka');
    const confDir = ctx.dir('conf', 'kafka');
    const config = path.join(confDir, 'server.properties');
    ctx.write(
      config,
      renderKafkaProperties({ dataDir, port: PORTS.kafka, controllerPort: KAFKA_CONTROLLER_PORT }),
    );
    ctx.write(path.join(confDir, 'log4j2.properties'), LOG4J2_PROPERTIES);
    if (!existsSync(path.join(dataDir, 'meta.properties'))) {
      ctx.log('kafka: formatting the KRaft storage (kafka.tools.StorageTool format)');
      await runLogged(
        path.join(javaHome(), 'bin', 'java'),
        javaArgs(ctx, [
          'kafka.tools.StorageTool',
          'format',
          '--cluster-id',
          newClusterId(),
          '--config',
          config,
        ]),
        { logFile: ctx.logFile('kafka'), env: ctx.env(), cwd: dataDir, runAs: ctx.runAs, server: 'kafka' },
      );
    }
  },

  command(ctx) {
    return {
      command: path.join(javaHome(), 'bin', 'java'),
      args: javaArgs(ctx, [
        ...KAFKA_HEAP,
        'kafka.Kafka',
        path.join(ctx.layout.conf, 'kafka', 'server.properties'),
      ]),
      env: ctx.env(),
      cwd: path.join(ctx.layout.data, 'kafka'),
    };
  },

  async probe() {
    try {
      const m = await metadata();
      const self = m.brokers.find((b) => b.nodeId === NODE_ID && b.port === PORTS.kafka);
      if (!self) return { healthy: false, detail: 'broker not registered yet (Metadata lists no broker)' };
      if (m.controllerId < 0) return { healthy: false, detail: 'no active controller yet' };
      return { healthy: true, detail: `Metadata ok, cluster ${m.clusterId ?? '?'}` };
    } catch (error) {
      return { healthy: false, detail: probeFailure(error) };
    }
  },

  async version(ctx) {
    try {
      return versionFromJarNames(readdirSync(path.join(kafkaHome(ctx), 'lib')));
    } catch {
      return null;
    }
  },
};
