import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { StackError } from '../errors.js';
import { runLogged, runMaven } from '../install.js';
import { checkJava, javaHome } from '../java.js';
import { ELASTICSEARCH_TRANSPORT_PORT, HOST, PORTS } from '../ports.js';
import { httpRequest, probeFailure } from '../probes.js';
import type { ServerContext, ServerDef } from './types.js';

/**
 * The integ-test distribution from Maven Central: no bundled JDK (runs on the system's Java 17) and
 * trimmed (x-pack core and security, netty; no painless, no reindex, no ML, no geoip, no `GET /`).
 */
export const ELASTICSEARCH_VERSION = '8.19.21';
const ARTIFACT = `org.elasticsearch.distribution.integ-test-zip:elasticsearch:${ELASTICSEARCH_VERSION}:zip`;

/**
 * Only settings the trimmed distribution knows (an unknown setting, such as an `xpack.ml.*` one, stops
 * the node). Loopback binding keeps the production bootstrap checks (vm.max_map_count...) off.
 */
export function renderElasticsearchYml(options: {
  dataDir: string;
  logsDir: string;
  port: number;
  transportPort: number;
}): string {
  return `${[
    '# Written by deploy/local at every start; edits here are overwritten.',
    'cluster.name: cdc-cache-local',
    'node.name: local',
    `path.data: ${options.dataDir}`,
    `path.logs: ${options.logsDir}`,
    `network.host: ${HOST}`,
    `http.port: ${options.port}`,
    `transport.port: ${options.transportPort}`,
    'discovery.type: single-node',
    'xpack.security.enabled: false',
    // A development disk may be nearly full: never turn indices read-only because of it.
    'cluster.routing.allocation.disk.threshold_enabled: false',
    // Tests drop their indices with wildcards.
    'action.destructive_requires_name: false',
  ].join('\n')}\n`;
}

/** Heap 512m; no pre-touching, so an idle node does not hold its whole heap in RSS. */
export const JVM_OPTIONS = '-Xms512m\n-Xmx512m\n-XX:-AlwaysPreTouch\n';

function esHome(ctx: ServerContext): string {
  return path.join(ctx.layout.opt, `elasticsearch-${ELASTICSEARCH_VERSION}`);
}

export const elasticsearch: ServerDef = {
  name: 'elasticsearch',
  ports: [PORTS.elasticsearch, ELASTICSEARCH_TRANSPORT_PORT],
  startTimeoutMs: 90_000,
  debPackages: [],
  tools: ['java', 'mvn', 'unzip'],

  async install(ctx) {
    checkJava();
    const home = esHome(ctx);
    if (existsSync(path.join(home, '.installed'))) return;
    ctx.log(`fetching Elasticsearch ${ELASTICSEARCH_VERSION} (integ-test-zip) from Maven Central`);
    const installLog = path.join(ctx.layout.logs, 'install.log');
    const downloads = path.join(ctx.layout.opt, 'downloads');
    mkdirSync(downloads, { recursive: true });
    await runMaven(
      ['dependency:copy', `-Dartifact=${ARTIFACT}`, `-DoutputDirectory=${downloads}`],
      installLog,
      'elasticsearch',
    );
    const zip = path.join(downloads, `elasticsearch-${ELASTICSEARCH_VERSION}.zip`);
    if (!existsSync(zip))
      throw new StackError(`elasticsearch: Maven finished but ${zip} is missing`, 'elasticsearch');
    const partial = `${home}.partial`;
    rmSync(partial, { recursive: true, force: true });
    await runLogged('unzip', ['-q', zip, '-d', partial], { logFile: installLog, server: 'elasticsearch' });
    const inner = readdirSync(partial).find((d) => d.startsWith('elasticsearch-'));
    if (!inner) throw new StackError(`elasticsearch: unexpected zip layout in ${partial}`, 'elasticsearch');
    writeFileSync(path.join(partial, inner, '.installed'), `${ELASTICSEARCH_VERSION}\n`);
    rmSync(home, { recursive: true, force: true });
    renameSync(path.join(partial, inner), home);
    rmSync(partial, { recursive: true, force: true });
    rmSync(zip, { force: true }); // ~/.m2 keeps a copy
  },

  async prepare(ctx) {
    const home = esHome(ctx);
    // ES_PATH_CONF must be writable by the server: it creates its keystore there on first start.
    const confDir = ctx.dir('conf', 'elasticsearch');
    const jvmOptionsDir = ctx.dir('conf', 'elasticsearch', 'jvm.options.d');
    // Copied by content: the distribution's own files are root-owned, mode 660.
    for (const file of ['jvm.options', 'log4j2.properties']) {
      ctx.write(path.join(confDir, file), readFileSync(path.join(home, 'config', file), 'utf8'));
    }
    ctx.write(path.join(jvmOptionsDir, 'cdc-cache.options'), JVM_OPTIONS);
    ctx.write(
      path.join(confDir, 'elasticsearch.yml'),
      renderElasticsearchYml({
        dataDir: ctx.dir('data', 'elasticsearch'),
        logsDir: ctx.dir('logs', 'elasticsearch'),
        port: PORTS.elasticsearch,
        transportPort: ELASTICSEARCH_TRANSPORT_PORT,
      }),
    );
    ctx.dir('run', 'elasticsearch', 'tmp');
  },

  command(ctx) {
    return {
      command: path.join(esHome(ctx), 'bin', 'elasticsearch'),
      args: [],
      env: ctx.env({
        ES_JAVA_HOME: javaHome(),
        ES_PATH_CONF: path.join(ctx.layout.conf, 'elasticsearch'),
        ES_TMPDIR: path.join(ctx.layout.run, 'elasticsearch', 'tmp'),
        // The launcher JVM stays resident beside the server: keep it small (C1 only, small code cache).
        CLI_JAVA_OPTS: '-XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=16m -Xss512k',
      }),
      cwd: path.join(ctx.layout.data, 'elasticsearch'),
    };
  },

  async probe() {
    try {
      const reply = await httpRequest(PORTS.elasticsearch, '/_cluster/health?timeout=1s');
      if (reply.status !== 200) return { healthy: false, detail: `/_cluster/health -> HTTP ${reply.status}` };
      const status = (JSON.parse(reply.body) as { status?: string }).status;
      return status === 'green' || status === 'yellow'
        ? { healthy: true, detail: `cluster ${status}` }
        : { healthy: false, detail: `cluster ${status ?? 'unknown'}` };
    } catch (error) {
      return { healthy: false, detail: probeFailure(error) };
    }
  },

  async version() {
    try {
      const reply = await httpRequest(PORTS.elasticsearch, '/_nodes/_local?filter_path=nodes.*.version');
      const nodes = (JSON.parse(reply.body) as { nodes?: Record<string, { version?: string }> }).nodes ?? {};
      return Object.values(nodes)[0]?.version ?? null;
    } catch {
      return null;
    }
  },
};
