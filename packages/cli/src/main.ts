import { runCli } from './cli.js';

process.exitCode = await runCli(process.argv.slice(2), {
  out: process.stdout,
  err: process.stderr,
  isTTY: process.stdout.isTTY === true,
});
