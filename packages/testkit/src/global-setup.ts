import { up } from '@cdc-cache/local-stack';

/**
 * Vitest global setup: makes sure every server of the local stack is running and healthy.
 * A no-op (a few health checks) when the stack is already up; installs on a fresh machine.
 */
export default async function setup(): Promise<void> {
  await up({ log: (line) => process.stderr.write(`[stack] ${line}\n`) });
}
