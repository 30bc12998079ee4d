// Policy enforcement in `signet serve`: what a verdict costs. Warm (cached) manifest GETs with
// --policy against the same server without it (goal >= 0.8x), the latency of a cold verdict (the
// first GET after a signature lands), and pull-through GETs against the upstream served directly;
// each pair measured in alternating rounds (best round of each).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { sign } from '../src/sign/index.ts';
import { trustSetup } from '../test/helpers/trust.ts';
import { startDistribution, startSignet, type RegistryProcess } from './peers.ts';
import { manifestRpsAlternating, pushSmallManifest } from './registry.ts';

/** A distinct small image manifest under `tag` (the config digest is shared; the annotation differs). */
async function pushDistinct(host: string, repo: string, tag: string): Promise<string> {
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
        size: 2,
      },
      layers: [],
      annotations: { 'org.example.tag': tag },
    })
  );
  const put = await request(`http://${host}/v2/${repo}/manifests/${tag}`, {
    method: 'PUT',
    body: manifest,
    headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
  });
  await put.body.dump();
  if (put.statusCode !== 201) throw new Error(`PUT manifest ${tag}: ${put.statusCode}`);
  return `http://${host}/v2/${repo}/manifests/${tag}`;
}

async function timedGet(url: string): Promise<number> {
  const t0 = process.hrtime.bigint();
  const r = await request(url, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
  await r.body.dump();
  if (r.statusCode !== 200) throw new Error(`GET ${url}: ${r.statusCode}`);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function enforcementSection(): Promise<void> {
  console.log('\n## enforcement: signet serve --policy (verdict cache) and pull-through, 127.0.0.1');
  const work = await mkdtemp(join(tmpdir(), 'signet-bench-enforce-'));
  const procs: RegistryProcess[] = [];
  try {
    const { keys, store, policy } = await trustSetup(work);
    const flags = ['--policy', policy, '--trust-store', store];

    // Same store, same manifest, same server binary, with and without the policy: both run side
    // by side on the one root (the enforcing server only reads it here) and are measured in
    // alternating rounds.
    const root = join(work, 'root');
    const plain = await startSignet(root, [], 'signet serve');
    procs.push(plain);
    const url = await pushSmallManifest(plain.host);
    await sign(`${plain.host}/bench/small:v1`, { keyStore: keys });
    const enforcing = await startSignet(root, flags, 'signet serve --policy');
    procs.push(enforcing);
    const eurl = url.replace(plain.host, enforcing.host);
    const cold = await timedGet(eurl);
    const [without, warm] = (await manifestRpsAlternating([url, eurl], 3, 3)) as [number, number];
    await plain.stop();
    procs.splice(procs.indexOf(plain), 1);
    console.log(`manifest GET without policy     ${without.toFixed(0).padStart(6)} req/s (32 conns)`);
    console.log(`manifest GET with --policy      ${warm.toFixed(0).padStart(6)} req/s (warm verdict cache)`);
    console.log(`ratio with/without policy: ${(warm / without).toFixed(2)}x (goal >= 0.80x)`);

    // Cold verdicts: the first GET after each signature lands (the trust engine runs once).
    const colds: number[] = [cold];
    for (let i = 0; i < 9; i++) {
      const u = await pushDistinct(enforcing.host, 'bench/small', `c${i}`);
      await sign(`${enforcing.host}/bench/small:c${i}`, { keyStore: keys });
      colds.push(await timedGet(u));
    }
    const warmOne = median(await Promise.all(Array.from({ length: 5 }, () => timedGet(eurl))));
    console.log(
      `cold verdict latency: median ${median(colds).toFixed(1)} ms over ${colds.length} artifacts (a cached GET: ${warmOne.toFixed(1)} ms)`
    );

    // Pull-through in front of docker-registry against docker-registry itself.
    const upstream = await startDistribution();
    procs.push(upstream);
    const uurl = await pushSmallManifest(upstream.host);
    await sign(`${upstream.host}/bench/small:v1`, { keyStore: keys });
    const proxy = await startSignet(
      undefined,
      ['--upstream', `http://${upstream.host}`, ...flags],
      'signet pull-through'
    );
    procs.push(proxy);
    const purl = uurl.replace(upstream.host, proxy.host);
    const [direct, through] = (await manifestRpsAlternating([uurl, purl], 3, 3)) as [number, number];
    console.log(`docker-registry direct          ${direct.toFixed(0).padStart(6)} req/s`);
    console.log(`through signet pull-through     ${through.toFixed(0).padStart(6)} req/s (verified, cached verdict)`);
    console.log(`ratio pull-through/direct: ${(through / direct).toFixed(2)}x`);
  } finally {
    for (const p of procs.reverse()) await p.stop().catch(() => {});
    await rm(work, { recursive: true, force: true });
  }
}
