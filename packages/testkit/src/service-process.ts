import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../..');

/** A service started as a real process (so tests can SIGKILL it), with its JSON log lines. */
export interface ServiceProcess {
  readonly child: ChildProcess;
  readonly logs: Record<string, unknown>[];
  /** Lines of stderr/stdout that are not JSON (startup errors). */
  readonly text: string[];
  /** Resolves with the first log line that matches, or rejects after timeoutMs. */
  waitForLog(
    match: (line: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  /** Resolves with the exit code (or the signal name). */
  exited: Promise<number | string>;
  kill(signal?: NodeJS.Signals): void;
}

/** Writes a config object as YAML to a temporary file and returns its path. */
export async function writeConfig(config: object): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'cdc-cache-config-'));
  const path = join(dir, 'cdc-cache.yaml');
  await writeFile(path, stringify(config));
  return path;
}

/** Starts services/<name>/src/main.ts with the config file, through tsx, as the product runs it. */
export function startService(
  name: string,
  configPath: string,
  env: Record<string, string> = {},
): ServiceProcess {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'services', name, 'src/main.ts'), '--config', configPath],
    {
      cwd: ROOT,
      env: { ...process.env, LOG_LEVEL: 'debug', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const logs: Record<string, unknown>[] = [];
  const text: string[] = [];
  const watchers = new Set<(line: Record<string, unknown>) => void>();
  const onLine = (line: string) => {
    if (line.trim() === '') return;
    try {
      const parsed = JSON.parse(line) as Record<string, unknown>;
      logs.push(parsed);
      for (const watcher of watchers) watcher(parsed);
    } catch {
      text.push(line);
    }
  };
  for (const stream of [child.stdout, child.stderr]) {
    let buffered = '';
    stream?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      lines.forEach(onLine);
    });
  }
  const exited = new Promise<number | string>((resolve) => {
    child.on('exit', (code, signal) => resolve(code ?? signal ?? -1));
  });
  return {
    child,
    logs,
    text,
    exited,
    kill: (signal = 'SIGTERM') => {
      child.kill(signal);
    },
    waitForLog(match, timeoutMs = 30_000) {
      const found = logs.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          watchers.delete(watcher);
          reject(
            new Error(
              `no matching log line from ${name} within ${timeoutMs} ms; last lines:\n${[...logs.slice(-8).map((l) => JSON.stringify(l)), ...text.slice(-8)].join('\n')}`,
            ),
          );
        }, timeoutMs);
        const watcher = (line: Record<string, unknown>) => {
          if (!match(line)) return;
          clearTimeout(timer);
          watchers.delete(watcher);
          resolve(line);
        };
        watchers.add(watcher);
        void exited.then((code) => {
          if (!watchers.has(watcher)) return;
          clearTimeout(timer);
          watchers.delete(watcher);
          reject(
            new Error(
              `${name} exited (${code}) before the expected log line; output:\n${text.slice(-10).join('\n')}`,
            ),
          );
        });
      });
    },
  };
}
