#!/usr/bin/env node
// `npm run test:nodes`: a representative part of the suite (every unit test, and integration
// files that start servers, spawn the CLI and verify end to end) on Node 22 and Node 24, fetched
// through the npm `node` package (`npx -y -p node@22 node …`), after the same build `npm test`
// makes (the spawned CLI runs dist/). Node 20 runs the whole suite in `npm test`.
//   node scripts/test-other-nodes.mjs            Node 22 and 24
//   node scripts/test-other-nodes.mjs 24         one version
//   node scripts/test-other-nodes.mjs 22 -- FILE…  other test files
// Ends with one line per version and exits non-zero when any failed.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SUBSET = [
  'test/unit',
  'test/integration/batch-concurrency.test.ts',
  'test/integration/verifier-cache.test.ts',
  'test/integration/revocation.test.ts',
  'test/integration/serve-enforcement.test.ts',
  'test/integration/sign-verify-targets.test.ts',
  'test/integration/cli-usage.test.ts',
  'test/integration/server-bad-input.test.ts',
];

const argv = process.argv.slice(2);
const dash = argv.indexOf('--');
const versions = (dash < 0 ? argv : argv.slice(0, dash)).filter((a) => /^\d+$/.test(a));
const files = dash < 0 ? SUBSET : argv.slice(dash + 1);
const wanted = versions.length ? versions : ['22', '24'];

const build = spawnSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);

const results = [];
for (const v of wanted) {
  const dir = mkdtempSync(join(tmpdir(), `signet-node${v}-`));
  const report = join(dir, 'report.json');
  const started = Date.now();
  const version = spawnSync('npx', ['-y', '-p', `node@${v}`, 'node', '--version'], { encoding: 'utf8' });
  console.log(`\n## Node ${v} (${(version.stdout ?? '').trim() || 'not available'})`);
  const r = spawnSync(
    'npx',
    [
      '-y',
      '-p',
      `node@${v}`,
      'node',
      'node_modules/vitest/vitest.mjs',
      'run',
      '--reporter=default',
      '--reporter=json',
      `--outputFile.json=${report}`,
      ...files,
    ],
    { stdio: 'inherit', env: { ...process.env, SIGNET_USE_DIST: '1' } }
  );
  let passed = 0;
  let failed = 0;
  try {
    const j = JSON.parse(readFileSync(report, 'utf8'));
    passed = j.numPassedTests;
    failed = j.numFailedTests;
    if (!j.success && failed === 0) failed = Math.max(1, j.numFailedTestSuites ?? 0);
  } catch {
    failed = Math.max(failed, 1);
  }
  rmSync(dir, { recursive: true, force: true });
  results.push({
    v,
    actual: (version.stdout ?? '').trim(),
    passed,
    failed,
    ok: r.status === 0 && failed === 0,
    s: (Date.now() - started) / 1000,
  });
}
console.log('');
for (const x of results)
  console.log(`node ${x.v} (${x.actual}): ${x.passed} passed, ${x.failed} failed in ${x.s.toFixed(0)} s`);
process.exit(results.every((x) => x.ok) ? 0 : 1);
