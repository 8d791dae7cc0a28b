import path from 'node:path';
import type { StackLogFn } from '../install.js';
import type { Layout } from '../paths.js';
import type { ServerName } from '../ports.js';
import type { Probe } from '../probes.js';
import type { SpawnSpec } from '../process-control.js';
import type { RunAs } from '../user.js';
import { ownedDir, ownedFile } from '../user.js';

/** What a server module gets: where things go and who the server runs as. */
export class ServerContext {
  constructor(
    readonly layout: Layout,
    readonly runAs: RunAs | undefined,
    readonly log: StackLogFn,
  ) {}

  /** A folder of the server's own, owned by the run-as user (created if missing). */
  dir(kind: 'data' | 'conf' | 'run' | 'logs', name: string, ...sub: string[]): string {
    return ownedDir(path.join(this.layout[kind], name, ...sub), this.runAs);
  }

  write(file: string, content: string): void {
    ownedFile(file, content, this.runAs);
  }

  logFile(name: ServerName): string {
    return path.join(this.layout.logs, `${name}.log`);
  }

  /** A minimal environment: nothing from the caller's environment leaks into a server. */
  env(extra: Record<string, string> = {}): Record<string, string> {
    return {
      PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin',
      HOME: this.layout.home,
      LANG: 'C.UTF-8',
      LC_ALL: 'C.UTF-8',
      TZ: 'UTC',
      ...(this.runAs ? { USER: this.runAs.name, LOGNAME: this.runAs.name } : {}),
      ...extra,
    };
  }
}

/** One server of the stack. The orchestration (stack.ts) is the same for all of them. */
export interface ServerDef {
  name: ServerName;
  /** Every port it binds, client port first; all must be free before a start. */
  ports: readonly number[];
  /** How long a start may take until healthy. */
  startTimeoutMs: number;
  /** Debian packages it needs (installed by `up` when missing). */
  debPackages: readonly string[];
  /** Commands the install step needs (mvn, unzip), mapped to Debian packages when missing. */
  tools?: readonly string[];
  /** Downloads beyond Debian packages (Maven Central); stamped, so a second call is a no-op. */
  install?(ctx: ServerContext): Promise<void>;
  /** Create the data folder on first start, render configuration. Runs before every start. */
  prepare(ctx: ServerContext): Promise<void>;
  command(ctx: ServerContext): SpawnSpec;
  probe(ctx: ServerContext): Promise<Probe>;
  version(ctx: ServerContext): Promise<string | null>;
  /** How to stop it: default SIGTERM to the whole process group. */
  stop?: { signal: NodeJS.Signals; leaderOnly: boolean };
  /**
   * For a server that is already running: re-render its configuration from deploy/ and, if that
   * changed, validate and reload it. Returns what it did, or null if nothing changed.
   */
  syncConfig?(ctx: ServerContext, pid: number): Promise<string | null>;
}
