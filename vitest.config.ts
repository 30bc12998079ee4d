import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

// Tests never read or write the developer's own $SIGNET_HOME (keys, trust policy, freshness
// state): one throw-away home per run, which a test overrides when it needs its own.
const home = mkdtempSync(join(tmpdir(), 'signet-test-home-'));

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Two cores: integration tests start servers and peer processes; keep parallelism modest.
    maxWorkers: 2,
    env: { SIGNET_HOME: home },
  },
});
