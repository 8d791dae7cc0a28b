import { loadConfigOrExit } from '@cdc-cache/core';
import { runDeadLetterCommand } from './dead-letter-command.js';

// node --import tsx services/cache-invalidator/src/dead-letters.ts --config FILE list|replay [ID...]
// (the same command packages/cli can mount as `cdc-cache dead-letters`).
const args = process.argv.slice(2);
const config = loadConfigOrExit(args);
const rest = args.filter(
  (arg, i) => arg !== '--config' && args[i - 1] !== '--config' && !arg.startsWith('--config='),
);
process.exitCode = await runDeadLetterCommand(rest, config, { out: process.stdout, err: process.stderr });
