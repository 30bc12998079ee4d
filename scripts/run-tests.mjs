#!/usr/bin/env node
// Runs the whole suite with vitest and ends with the plain closing line 'N passed, N failed'
// (CI reads it). Extra arguments go to vitest (e.g. a file filter).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'signet-test-report-'));
const report = join(dir, 'report.json');
const args = [
  'vitest',
  'run',
  '--reporter=default',
  '--reporter=json',
  `--outputFile.json=${report}`,
  ...process.argv.slice(2),
];
// The CLI under test is the one users get: dist/, built here from this tree (a stale dist/ can
// never be tested), and each spawned `signet` starts without transpiling TypeScript.
const build = spawnSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit' });
if (build.status !== 0) {
  console.log('\n0 passed, 1 failed');
  process.exit(1);
}
const child = spawn('npx', args, { stdio: 'inherit', env: { ...process.env, SIGNET_USE_DIST: '1' } });
child.on('exit', (code) => {
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  try {
    const r = JSON.parse(readFileSync(report, 'utf8'));
    passed = r.numPassedTests;
    failed = r.numFailedTests;
    // a file that fails to load has no failed test but is a failure
    if (!r.success && failed === 0) failed = Math.max(1, r.numFailedTestSuites ?? 0);
    skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  } catch {
    failed = Math.max(failed, 1);
  }
  rmSync(dir, { recursive: true, force: true });
  console.log(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
  if (skipped > 0) console.error('a test was skipped: the suite never skips silently; fix or remove it');
  process.exit(code === 0 && failed === 0 && skipped === 0 && passed > 0 ? 0 : code || 1);
});
