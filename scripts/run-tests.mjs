#!/usr/bin/env node
// Runs the whole suite with vitest and ends with the plain closing line 'N passed, N failed'
// (CI reads it). Extra arguments go to vitest (e.g. a file filter).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'signet-test-report-'));
const report = join(dir, 'report.json');
const args = ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...process.argv.slice(2)];
const child = spawn('npx', args, { stdio: 'inherit' });
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
