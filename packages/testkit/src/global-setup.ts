/**
 * Vitest global setup: makes sure every server of the local stack is running and healthy.
 * A no-op (a few health checks) when the stack is already up; installs on a fresh machine.
 * CDC_CACHE_TEST_NO_STACK=1 skips it, for quick runs of pure unit tests while developing.
 */
export default async function setup(): Promise<void> {
  if (process.env.CDC_CACHE_TEST_NO_STACK === '1') return;
  const { up } = await import('@cdc-cache/local-stack');
  await up({ log: (line) => process.stderr.write(`[stack] ${line}\n`) });
}
