import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: [
      'packages/*/src/**/*.test.ts',
      'services/*/src/**/*.test.ts',
      'deploy/local/src/**/*.test.ts',
      'test/**/*.test.ts',
    ],
    // Starts the local stack of real servers if it is not running (no-op when it is).
    globalSetup: ['packages/testkit/src/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration tests share real servers; each file gets its own slate (database, prefixes).
    pool: 'forks',
  },
});
