import { ConfigError, configPathFromArgv, loadConfig } from '@cdc-cache/core';
import { down, formatStatusTable, status, up } from '@cdc-cache/local-stack';
import { resnapshot } from './commands/resnapshot.js';

/** Exit codes scripts can rely on. */
export const EXIT = { ok: 0, failed: 1, usage: 2, unhealthy: 3 } as const;

export interface Output {
  write(text: string): unknown;
}

const HELP = `cdc-cache: keeps Redis, Memcached and Elasticsearch in step with PostgreSQL.

Usage: cdc-cache <command> [options]

Commands:
  up                      start the local stack (installs servers on first use) and wait until healthy
  down                    stop everything 'up' started
  status                  show each server: port, pid, version, health (exit 3 if any is unhealthy)
  resnapshot TABLE        read TABLE (schema.table) again into its topic, while streaming goes on;
                          shows progress until done (--no-wait: only request it)

Options:
  -c, --config FILE       the cdc-cache config (default: $CDC_CACHE_CONFIG)
  -h, --help              show this help

Exit codes: 0 ok, 1 failed, 2 usage or config error, 3 unhealthy.
`;

export async function runCli(
  argv: string[],
  io: { out: Output; err: Output; isTTY?: boolean; env?: Record<string, string | undefined> },
): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
    io.out.write(HELP);
    return command === undefined ? EXIT.usage : EXIT.ok;
  }
  if (rest.includes('-h') || rest.includes('--help')) {
    io.out.write(HELP);
    return EXIT.ok;
  }
  const log = (line: string) => io.err.write(`${line}\n`);
  try {
    switch (command) {
      case 'up':
        await up({ log });
        return EXIT.ok;
      case 'down':
        await down({ log });
        return EXIT.ok;
      case 'status': {
        const servers = await status();
        io.out.write(`${formatStatusTable(servers)}\n`);
        return servers.every((server) => server.healthy) ? EXIT.ok : EXIT.unhealthy;
      }
      case 'resnapshot': {
        const table = positional(rest);
        if (!table) {
          io.err.write(`cdc-cache resnapshot: name the table, e.g. cdc-cache resnapshot public.users\n`);
          return EXIT.usage;
        }
        const config = loadConfig({
          path: configPathFromArgv(rest) ?? undefined,
          env: io.env ?? process.env,
        });
        await resnapshot({
          config,
          table,
          wait: !rest.includes('--no-wait'),
          out: io.out,
          isTTY: io.isTTY === true,
        });
        return EXIT.ok;
      }
      default:
        io.err.write(`cdc-cache: unknown command "${command}"; run 'cdc-cache --help' for the list\n`);
        return EXIT.usage;
    }
  } catch (error) {
    if (error instanceof ConfigError) {
      for (const problem of error.problems) io.err.write(`${problem}\n`);
      return EXIT.usage;
    }
    io.err.write(`cdc-cache ${command}: ${error instanceof Error ? error.message : String(error)}\n`);
    return EXIT.failed;
  }
}

/** The first argument that is neither an option nor an option's value. */
function positional(args: string[]): string | undefined {
  for (let index = 0; index < args.length; index++) {
    const arg = args[index]!;
    if (arg === '-c' || arg === '--config') {
      index += 1;
      continue;
    }
    if (!arg.startsWith('-')) return arg;
  }
  return undefined;
}
