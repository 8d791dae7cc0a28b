/**
 * The local stack's command line: `npm run stack -- <command>` (see usage below). Errors print one
 * clear line (plus the log tail for a start failure) and exit non-zero.
 */
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { errorMessage, StackError } from './errors.js';
import { formatStatusTable } from './format.js';
import { tailOf } from './log-tail.js';
import { logPath, stateDir } from './paths.js';
import type { ServerName } from './ports.js';
import { isServerName, PORTS, SERVER_NAMES } from './ports.js';
import { down, reset, status, up } from './stack.js';

const USAGE = `usage: npm run stack -- <command>

  up [NAME...]        install what is missing, start what is not running, wait until healthy
  down                stop every server this stack started
  status              name, port, pid, version and health of each server (exit 1 if any is down)
  logs NAME [-f] [-n N]
                      the last N (default 40) lines of a server's log; -f keeps following it
  reset               down, then delete all data, logs and rendered configuration (installs are kept)
  --help              this text

servers: ${SERVER_NAMES.map((n) => `${n} (${PORTS[n]})`).join(', ')}
state folder: ${stateDir()} (set CDC_CACHE_STATE_DIR to move it)`;

const log = (line: string) => process.stderr.write(`stack: ${line}\n`);

function serverArg(name: string | undefined): ServerName {
  if (!name || !isServerName(name)) {
    throw new StackError(`logs needs a server name: one of ${SERVER_NAMES.join(', ')}`);
  }
  return name;
}

/** Print new bytes appended to the file until interrupted (rotation is not a concern here). */
async function follow(file: string): Promise<void> {
  let offset = existsSync(file) ? statSync(file).size : 0;
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    if (!existsSync(file)) continue;
    const size = statSync(file).size;
    if (size < offset) offset = 0; // truncated by reset
    if (size === offset) continue;
    const fd = openSync(file, 'r');
    try {
      const buffer = Buffer.alloc(size - offset);
      readSync(fd, buffer, 0, buffer.length, offset);
      process.stdout.write(buffer);
      offset = size;
    } finally {
      closeSync(fd);
    }
  }
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
    case '--help':
    case '-h':
    case 'help':
      process.stdout.write(`${USAGE}\n`);
      return command === undefined ? 1 : 0;
    case 'up': {
      const names = rest.filter((a) => !a.startsWith('-'));
      const unknown = names.filter((n) => !isServerName(n));
      if (unknown.length)
        throw new StackError(
          `unknown server(s) ${unknown.join(', ')}; the servers are ${SERVER_NAMES.join(', ')}`,
        );
      await up({ only: names as ServerName[], log });
      return 0;
    }
    case 'down':
      await down({ log });
      return 0;
    case 'reset':
      await reset({ log });
      return 0;
    case 'status': {
      const rows = await status();
      process.stdout.write(`${formatStatusTable(rows)}\n`);
      return rows.every((r) => r.healthy) ? 0 : 1;
    }
    case 'logs': {
      const name = serverArg(rest.find((a) => !a.startsWith('-') && isServerName(a)));
      const nAt = rest.indexOf('-n');
      const lines = nAt >= 0 ? Number(rest[nAt + 1]) : 40;
      const file = logPath(name);
      if (!existsSync(file))
        throw new StackError(`${name} has no log yet (${file}); start it with npm run stack -- up ${name}`);
      const tail = tailOf(file, Number.isInteger(lines) && lines > 0 ? lines : 40, false);
      process.stdout.write(`${tail.join('\n')}\n`);
      if (rest.includes('-f') || rest.includes('--follow')) await follow(file);
      return 0;
    }
    default:
      throw new StackError(`unknown command ${command}; see npm run stack -- --help`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const message = error instanceof StackError ? error.message : `unexpected error: ${errorMessage(error)}`;
    process.stderr.write(`stack: error: ${message}\n`);
    if (!(error instanceof StackError) && error instanceof Error && error.stack)
      process.stderr.write(`${error.stack}\n`);
    process.exitCode = 1;
  },
);
