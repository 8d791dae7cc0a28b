import { appendFileSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { StackError } from '../errors.js';
import { runLogged } from '../install.js';
import { HOST, PORTS } from '../ports.js';
import { PROBE_TIMEOUT_MS, probeFailure } from '../probes.js';
import type { ServerDef } from './types.js';

const PREFERRED_MAJOR = '15';
const INCLUDE_LINE = "include 'cdc-cache.conf'";

/** Debian's PostgreSQL binaries: version 15 (bookworm's) if present, else the newest installed. */
export function postgresBinDir(): string {
  const base = '/usr/lib/postgresql';
  if (existsSync(path.join(base, PREFERRED_MAJOR, 'bin', 'postgres')))
    return path.join(base, PREFERRED_MAJOR, 'bin');
  let versions: string[] = [];
  try {
    versions = readdirSync(base).filter((v) => existsSync(path.join(base, v, 'bin', 'postgres')));
  } catch {
    // not installed yet
  }
  versions.sort((a, b) => Number(b) - Number(a));
  return path.join(base, versions[0] ?? PREFERRED_MAJOR, 'bin');
}

/**
 * The settings the project needs, in a file of our own that postgresql.conf includes (rewritten at
 * every start, so a change here applies at the next start without touching the cluster).
 */
export function renderPostgresConf(options: { port: number; socketDir: string }): string {
  return `${[
    '# Written by deploy/local at every start; edits here are overwritten.',
    `listen_addresses = '${HOST}'`,
    `port = ${options.port}`,
    `unix_socket_directories = '${options.socketDir}'`,
    // Logical decoding for the cdc-worker (pgoutput), and room for tests that each make a slot.
    'wal_level = logical',
    'max_replication_slots = 20',
    'max_wal_senders = 20',
    "shared_preload_libraries = 'pg_stat_statements'",
    // Test files run in parallel forks, each with a pool.
    'max_connections = 200',
    // Stderr goes to the stack's log file; no collector of its own.
    'logging_collector = off',
    "log_line_prefix = '%m [%p] %q%u@%d '",
    "timezone = 'UTC'",
  ].join('\n')}\n`;
}

/** Trust on loopback only, for normal and replication connections (a local development stack). */
export function renderPgHba(): string {
  return `${[
    '# Written by deploy/local: trust on loopback only (never exposed beyond 127.0.0.1).',
    '# TYPE  DATABASE     USER  ADDRESS        METHOD',
    'local   all          all                  trust',
    'local   replication  all                  trust',
    `host    all          all   ${HOST}/32   trust`,
    `host    replication  all   ${HOST}/32   trust`,
  ].join('\n')}\n`;
}

async function query<T>(sql: string): Promise<T[]> {
  const client = new pg.Client({
    host: HOST,
    port: PORTS.postgres,
    user: 'postgres',
    database: 'postgres',
    connectionTimeoutMillis: PROBE_TIMEOUT_MS,
    query_timeout: PROBE_TIMEOUT_MS,
  });
  client.on('error', () => {
    // a probe's connection dying is reported by the query, not as an unhandled event
  });
  try {
    await client.connect();
    const result = await client.query(sql);
    return result.rows as T[];
  } finally {
    await client.end().catch(() => undefined);
  }
}

export const postgres: ServerDef = {
  name: 'postgres',
  ports: [PORTS.postgres],
  startTimeoutMs: 30_000,
  debPackages: ['postgresql'],
  stop: { signal: 'SIGINT', leaderOnly: true }, // fast shutdown; SIGTERM would wait for clients

  async prepare(ctx) {
    const bin = postgresBinDir();
    const dataDir = ctx.dir('data', 'postgres');
    const socketDir = ctx.dir('run', 'postgres');
    const versionFile = path.join(dataDir, 'PG_VERSION');
    const major = path.basename(path.dirname(bin));
    if (!existsSync(versionFile)) {
      ctx.log('postgres: creating a new cluster (initdb)');
      await runLogged(
        path.join(bin, 'initdb'),
        ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C.UTF-8'],
        {
          logFile: ctx.logFile('postgres'),
          env: ctx.env(),
          cwd: dataDir,
          runAs: ctx.runAs,
          server: 'postgres',
        },
      );
      appendFileSync(
        path.join(dataDir, 'postgresql.conf'),
        `\n# cdc-cache local stack settings\n${INCLUDE_LINE}\n`,
      );
    } else {
      const existing = readFileSync(versionFile, 'utf8').trim();
      if (existing !== major) {
        throw new StackError(
          `postgres: the cluster in ${dataDir} is version ${existing} but the server is ${major}; ` +
            'run `npm run stack -- reset` to start from an empty cluster',
          'postgres',
        );
      }
    }
    ctx.write(path.join(dataDir, 'pg_hba.conf'), renderPgHba());
    ctx.write(path.join(dataDir, 'cdc-cache.conf'), renderPostgresConf({ port: PORTS.postgres, socketDir }));
  },

  command(ctx) {
    const dataDir = path.join(ctx.layout.data, 'postgres');
    return {
      command: path.join(postgresBinDir(), 'postgres'),
      args: ['-D', dataDir],
      env: ctx.env(),
      cwd: dataDir,
    };
  },

  async probe() {
    try {
      const rows = await query<{ wal_level: string }>('SHOW wal_level');
      const walLevel = rows[0]?.wal_level;
      return walLevel === 'logical'
        ? { healthy: true, detail: 'accepting queries, wal_level=logical' }
        : { healthy: false, detail: `wal_level is ${walLevel}, not logical` };
    } catch (error) {
      return { healthy: false, detail: probeFailure(error) };
    }
  },

  async version() {
    try {
      const rows = await query<{ server_version: string }>('SHOW server_version');
      return rows[0]?.server_version ?? null;
    } catch {
      return null;
    }
  },
};
