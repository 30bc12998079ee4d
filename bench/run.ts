// `npm run bench`: Signet against the peers it names, measured in the same run on 127.0.0.1.
// Sections: registry (signet serve vs Debian's docker-registry), notary, revocation, enforcement
// (--policy and pull-through), startup (cold CLI processes on Node 20, 22, 24), demo (`npm start`).
// Pass section names to run a subset; `--json FILE` also writes the table rows (value, peer,
// ratio, goal, Node version) to FILE.
import {
  BlobSource,
  blobThroughput,
  manifestRpsAlternating,
  pushBlob,
  pullBlob,
  pushSmallManifest,
} from './registry.ts';
import { startDistribution, startSignet, type RegistryProcess } from './peers.ts';
import { notarySection } from './notary.ts';
import { revocationSection } from './revocation.ts';
import { enforcementSection } from './enforcement.ts';
import { demoSection, startupSection } from './startup.ts';
import { row, rows } from './rows.ts';
import { writeFileSync } from 'node:fs';

const MiB = 1024 * 1024;
const argv = process.argv.slice(2);
const jsonAt = argv.indexOf('--json');
const jsonFile = jsonAt >= 0 ? argv[jsonAt + 1] : undefined;
if (jsonAt >= 0 && !jsonFile) throw new Error('--json takes a file name');
const sections = new Set(argv.filter((_, i) => jsonAt < 0 || (i !== jsonAt && i !== jsonAt + 1)));
const want = (name: string): boolean => sections.size === 0 || sections.has(name);

function ratio(a: number, b: number): string {
  return `${(a / b).toFixed(2)}x`;
}

async function registrySection(): Promise<void> {
  console.log('\n## registry: signet serve vs docker-registry (distribution 2.8.2), 127.0.0.1');
  const blob = new BlobSource(256 * MiB);
  const results: Record<string, { push: number; pull: number; rps: number }> = {};
  // Both peers run side by side and are measured in alternation, by the same client, in the same
  // rounds (see blobThroughput): a change of load on the machine cannot favour the one measured
  // while it was quiet.
  const regs: RegistryProcess[] = [];
  try {
    for (const start of [startSignet, startDistribution]) regs.push(await start());
    const blobs = await blobThroughput(regs, blob, 3);
    const urls: string[] = [];
    for (const reg of regs) urls.push(await pushSmallManifest(reg.host));
    const best = await manifestRpsAlternating(urls, 2, 4);
    const rps = new Map<RegistryProcess, number>(regs.map((reg, k) => [reg, best[k]!]));
    for (const reg of regs) {
      const b = blobs[reg.name]!;
      results[reg.name] = { push: b.push, pull: b.pull, rps: rps.get(reg)! };
      const each = (xs: number[]): string => xs.map((x) => x.toFixed(0)).join('/');
      console.log(
        `${reg.name.padEnd(16)} push ${b.push.toFixed(0).padStart(5)} MB/s   pull ${b.pull.toFixed(0).padStart(5)} MB/s   manifest GET ${rps.get(reg)!.toFixed(0).padStart(6)} req/s (32 conns)   [rounds: push ${each(b.pushes)}, pull ${each(b.pulls)}]`
      );
    }
  } finally {
    for (const reg of regs) await reg.stop();
  }
  const s = results['signet serve']!;
  const d = results['docker-registry']!;
  console.log(
    `ratio signet/distribution: push ${ratio(s.push, d.push)}, pull ${ratio(s.pull, d.pull)}, manifest GETs ${ratio(s.rps, d.rps)} (target: >= 1.00x each)`
  );
  row(
    '256 MiB blob pull, signet serve ÷ docker-registry (best of 3)',
    s.pull,
    'MB/s',
    { name: 'docker-registry', value: d.pull },
    { min: 1 }
  );
  row(
    '256 MiB blob push, signet serve ÷ docker-registry (best of 3)',
    s.push,
    'MB/s',
    { name: 'docker-registry', value: d.push },
    { min: 1 }
  );

  // Peak RSS of the server process while a 1 GiB blob is pushed and pulled (goal < 100 MiB).
  const big = new BlobSource(1024 * MiB);
  const peaks: Record<string, { idle: number; peak: number }> = {};
  for (const start of [startSignet, startDistribution]) {
    const reg = await start();
    try {
      const idle = await reg.peakRss();
      await pushBlob(reg.host, 'bench/big', big);
      await pullBlob(reg.host, 'bench/big', big);
      const peak = await reg.peakRss();
      peaks[reg.name] = { idle, peak };
      console.log(
        `${reg.name.padEnd(16)} peak RSS during 1 GiB push+pull: ${(peak / MiB).toFixed(0)} MiB (${(idle / MiB).toFixed(0)} MiB before)`
      );
    } finally {
      await reg.stop();
    }
  }
  const sp = peaks['signet serve']!;
  row(
    'peak RSS of signet serve over a 1 GiB blob push + pull',
    sp.peak / MiB,
    'MiB',
    { name: 'docker-registry', value: peaks['docker-registry']!.peak / MiB },
    { max: 100, on: 'value' }
  );
}

async function main(): Promise<void> {
  console.log(
    `# Signet benchmarks (node ${process.version} at ${process.execPath}, ${process.platform}-${process.arch}, ${new Date().toISOString()})`
  );
  if (want('registry')) await registrySection();
  if (want('notary')) await notarySection();
  if (want('revocation')) await revocationSection();
  if (want('enforcement')) await enforcementSection();
  if (want('startup')) await startupSection();
  if (want('demo')) await demoSection();
  if (jsonFile) {
    const doc = {
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
      date: new Date().toISOString(),
      rows,
    };
    writeFileSync(jsonFile, `${JSON.stringify(doc, null, 2)}\n`);
    console.log(`\n${rows.length} rows written to ${jsonFile}`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
