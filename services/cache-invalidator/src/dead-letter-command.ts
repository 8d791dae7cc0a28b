import type { Config } from '@cdc-cache/core';
import { type DeadLetter, DeadLetterQueue } from './retry-queue.js';
import { queueConnection } from './service.js';

export interface CommandOutput {
  write(text: string): unknown;
}

export const DEAD_LETTER_USAGE = `Usage: cdc-cache dead-letters <list|replay> [--config FILE] [ID...]

  list            every dead letter: id, reason, when, the row or message, the last error
  replay [ID...]  moves dead letters (all, or the given ids) back to the retry queue, where a
                  running cache-invalidator applies them again (fenced: a replay never moves a
                  value backwards); one that fails again comes back here
`;

/** `cdc-cache dead-letters list|replay [ID...]`: the command, for packages/cli to mount. Returns the exit code. */
export async function runDeadLetterCommand(
  args: readonly string[],
  config: Config,
  io: { out: CommandOutput; err: CommandOutput },
): Promise<number> {
  const [action, ...ids] = args;
  if (action !== 'list' && action !== 'replay') {
    io.err.write(DEAD_LETTER_USAGE);
    return 2;
  }
  const queue = new DeadLetterQueue(queueConnection(config));
  try {
    if (action === 'list') {
      const letters = await queue.list();
      for (const letter of letters) io.out.write(`${describe(letter)}\n`);
      io.err.write(`${letters.length} dead letter(s)\n`);
      return 0;
    }
    const replayed = await queue.replay(ids.length > 0 ? ids : undefined);
    io.err.write(`${replayed} dead letter(s) moved to the retry queue\n`);
    return 0;
  } finally {
    await queue.close();
  }
}

function describe(letter: DeadLetter): string {
  const what =
    letter.entry.kind === 'op'
      ? `${letter.entry.op.kind} ${letter.entry.op.store} ${letter.entry.op.table} ${letter.entry.op.kind === 'truncate' ? '' : letter.entry.op.route}`
      : `event ${letter.entry.message.topic}[${letter.entry.message.partition}]@${letter.entry.message.offset} key ${letter.entry.message.key}`;
  return `${letter.id}\t${letter.reason}\t${letter.failedAt}\tattempts ${letter.attempts}\t${what.trim()}\t${letter.message}`;
}
