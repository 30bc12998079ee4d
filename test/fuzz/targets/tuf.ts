/**
 * TUF metadata: the client workflow (refreshTuf, src/freshness/tuf/client.ts) over a bundle in
 * which one metadata file (a root of the chain, timestamp, snapshot, targets or a delegated
 * role) was mutated. The seeds are a real repository written by the repository code (init,
 * delegate, publish, rotate) into a temporary OCI layout, once per run; each input is the name
 * of the file it replaces, a newline, and the file's new bytes, served from a fresh in-memory
 * store. A refresh that passes must have been given the signed content of every file intact.
 *
 * A second kind of input, `resign <filename>\n<bytes>`, re-signs the mutated file with the
 * repository's keys (and re-lists it in the snapshot and timestamp that name it), so hostile
 * content signed by a trusted key reaches the models' parsing, the thresholds and the delegation
 * search: there a pass is allowed, an uncoded exception still is not.
 */
import { createHash, createPublicKey } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Metadata,
  MetadataKind,
  MetaFile,
  type Root,
  type Snapshot,
  type Targets,
  type Timestamp,
} from '@tufjs/models';
import fc from 'fast-check';
import {
  DEFAULT_TUF_CAPS,
  readBundleIndex,
  refreshTuf,
  tufDelegate,
  tufInit,
  tufPublish,
  tufRotate,
  tufSigner,
  signWith,
  writeBundle,
} from '../../../src/freshness/index.ts';
import { descriptorFor, MediaType } from '../../../src/oci/index.ts';
import { KeyStore } from '../../../src/pki/index.ts';
import { fetchAll, MemoryTarget, openTarget } from '../../../src/store/index.ts';
import { expectModel, OracleViolation, type FuzzTarget } from '../harness.ts';
import { jsonInputs } from '../mutate.ts';

const TAG = 'tuf';
/**
 * The signing and reference time of every run: fixed, so that a saved input (whose `expires`
 * were written relative to it) meets the same checks years later, with the keys of any run.
 */
const NOW = new Date('2026-01-01T00:00:00Z');

interface TufCtx {
  dir: string;
  /** The bundle's files as the repository code wrote them, in bundle order. */
  files: Map<string, Uint8Array>;
  /** The canonical `signed` part of each seed file (what a passing refresh must have read). */
  signed: Map<string, string>;
  pin: string;
  now: Date;
  /** The repository's three keys (every file re-signed by all of them: extra signatures are ignored). */
  keys: Array<ReturnType<typeof tufSigner>>;
}

/** Sorted-key JSON of a parsed value: two encodings of the same signed content share it. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v) ?? 'undefined';
}

function signedOf(bytes: Uint8Array): string | undefined {
  try {
    return canonical((JSON.parse(Buffer.from(bytes).toString('utf8')) as { signed?: unknown }).signed);
  } catch {
    return undefined;
  }
}

/** An input: `[resign ]<filename>\n<bytes of that file>`. */
function split(input: Uint8Array): { file: string; resign: boolean; bytes: Uint8Array } {
  const nl = input.indexOf(0x0a);
  if (nl < 0) return { file: '', resign: false, bytes: input };
  const head = Buffer.from(input.subarray(0, nl)).toString('utf8');
  const resign = head.startsWith('resign ');
  return { file: resign ? head.slice(7) : head, resign, bytes: input.subarray(nl + 1) };
}

type Md = Metadata<Root | Targets | Snapshot | Timestamp>;

function kindOf(file: string): MetadataKind {
  if (file.endsWith('root.json')) return MetadataKind.Root;
  if (file === 'timestamp.json') return MetadataKind.Timestamp;
  if (file === 'snapshot.json') return MetadataKind.Snapshot;
  return MetadataKind.Targets;
}

/**
 * `bytes` with its signatures replaced by the repository keys' over the signed part as the
 * models read it; the raw `signed` is kept as it is. Unchanged when the models cannot read it.
 */
async function resigned(ctx: TufCtx, file: string, bytes: Uint8Array): Promise<Uint8Array> {
  // Over every cap the client reads with, it is refused by its size unread: parsing it here (JSON.parse
  // of 15 MB nested 20,000 deep takes seconds) would only time the harness.
  if (bytes.length > Math.max(...Object.values(DEFAULT_TUF_CAPS))) return bytes;
  let json: { signed?: unknown };
  let md: Md;
  try {
    json = JSON.parse(Buffer.from(bytes).toString('utf8')) as { signed?: unknown };
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    md = Metadata.fromJSON(kindOf(file) as any, json as any) as Md;
  } catch {
    return bytes;
  }
  md.signatures = {};
  try {
    await signWith(md, ctx.keys);
  } catch {
    return bytes; // no canonical form (a float, say): nothing can sign it, so nothing can verify it
  }
  const signatures = Object.values(md.signatures).map((sg) => sg.toJSON());
  try {
    return new Uint8Array(Buffer.from(JSON.stringify({ signed: json.signed, signatures })));
  } catch {
    return bytes; // nested deeper than JSON.stringify goes: the client gets it unsigned
  }
}

/** Re-lists `file` (new bytes) in `lister`'s meta, keeping the listed version, and re-signs the lister. */
async function relist(ctx: TufCtx, files: Map<string, Uint8Array>, lister: string, file: string): Promise<void> {
  const json = JSON.parse(Buffer.from(ctx.files.get(lister)!).toString('utf8')) as unknown;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const md = Metadata.fromJSON(kindOf(lister) as any, json as any) as Md;
  const signed = md.signed as unknown as { meta: Record<string, MetaFile>; snapshotMeta: MetaFile };
  const bytes = files.get(file)!;
  const listed = new MetaFile({
    version: (lister === 'timestamp.json' ? signed.snapshotMeta : signed.meta[file]!).version,
    length: bytes.length,
    hashes: { sha256: createHash('sha256').update(bytes).digest('hex') },
  });
  if (lister === 'timestamp.json') signed.snapshotMeta = listed;
  else signed.meta[file] = listed;
  md.signatures = {};
  await signWith(md, ctx.keys);
  files.set(lister, new Uint8Array(Buffer.from(`${JSON.stringify(md.toJSON())}\n`)));
}

async function repository(
  dir: string,
  now: Date
): Promise<{ files: Map<string, Uint8Array>; pin: string; keys: TufCtx['keys'] }> {
  const home = join(dir, 'home');
  const keyStore = new KeyStore(home);
  for (const k of ['tuf-a', 'tuf-b', 'tuf-c'])
    await keyStore.generate(k, { type: 'ecdsa-p256', subject: `CN=${k},O=Fuzz,C=US` });
  const ref = `oci:${join(dir, 'layout')}:${TAG}`;
  const as = { keyStore, home, now };
  const { root: pin } = await tufInit(ref, {
    ...as,
    keys: { root: ['tuf-a'], timestamp: ['tuf-b'], snapshot: ['tuf-b'] },
  });
  await tufDelegate(ref, 'team', { ...as, paths: ['oci:team/*'], keys: ['tuf-c'] });
  const release = (name: string, n: number) => {
    const body = Buffer.from(JSON.stringify({ schemaVersion: 2, release: `${name} ${n}` }));
    return { descriptor: descriptorFor(MediaType.ImageManifest, body), tag: String(n) };
  };
  await tufPublish(ref, ref, { ...as, name: 'acme/app', resolved: release('acme/app', 1) });
  await tufPublish(ref, ref, { ...as, name: 'team/app', role: 'team', resolved: release('team/app', 1) });
  await tufRotate(ref, 'root', { ...as, keys: ['tuf-a', 'tuf-c'], threshold: 1 });
  await tufPublish(ref, ref, { ...as, name: 'acme/app', resolved: release('acme/app', 2) });
  const { target, reference } = await openTarget(ref);
  try {
    const index = await readBundleIndex(target, reference!);
    const files = new Map<string, Uint8Array>();
    for (const [name, d] of index.files) files.set(name, new Uint8Array(await fetchAll(target, d)));
    const keys = await Promise.all(
      ['tuf-a', 'tuf-b', 'tuf-c'].map(async (k) => {
        const { privateKey } = await keyStore.get(k);
        return tufSigner(privateKey, createPublicKey(privateKey), k);
      })
    );
    return { files, pin, keys };
  } finally {
    await target.close();
  }
}

async function refresh(ctx: TufCtx, files: Map<string, Uint8Array>) {
  const store = new MemoryTarget('fuzz-tuf');
  await writeBundle(store, TAG, files);
  const trusted = await refreshTuf(store, TAG, ctx.pin, { stateDir: false, now: ctx.now, loadAllDelegated: true });
  const hit = await trusted.findTarget('oci:team/app:1');
  // a long tag no role lists: every pattern of every role on its way is tried against it
  expectModel((await trusted.findTarget(`oci:team/app:${'a'.repeat(120)}`)) === undefined, 'a target never published');
  return { trusted, hit };
}

export const tuf: FuzzTarget<TufCtx> = {
  name: 'tuf',
  description:
    'TUF metadata (refreshTuf over a bundle with one root/timestamp/snapshot/targets/delegated file mutated): a pass needs the signed content intact',
  weight: 2,
  async setup() {
    const dir = mkdtempSync(join(tmpdir(), 'signet-fuzz-tuf-'));
    try {
      const now = NOW;
      const { files, pin, keys } = await repository(dir, now);
      const signed = new Map([...files].map(([f, b]) => [f, signedOf(b)!]));
      const ctx: TufCtx = { dir, files, signed, pin, now, keys };
      // the seeds must refresh, or "never passes when mutated" would prove nothing
      const { hit } = await refresh(ctx, files);
      if (hit?.role !== 'team') throw new Error('the seed repository does not resolve its delegated target');
      for (const f of ['1.root.json', '2.root.json', 'timestamp.json', 'snapshot.json', 'targets.json', 'team.json'])
        if (!files.has(f)) throw new Error(`the seed repository has no ${f}`);
      return ctx;
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  },
  async teardown(ctx) {
    rmSync(ctx.dir, { recursive: true, force: true });
  },
  arbitrary: (ctx) =>
    fc.oneof(
      ...[...ctx.files].flatMap(([file, bytes]) => {
        const mutations = jsonInputs([JSON.parse(Buffer.from(bytes).toString('utf8')) as unknown]);
        const as = (head: string) => (b: Uint8Array) => new Uint8Array(Buffer.concat([Buffer.from(`${head}\n`), b]));
        // the files the client reads every time weigh more than the root chain's copy `root.json`
        if (file === 'root.json') return [{ weight: 1, arbitrary: mutations.map(as(file)) }];
        return [
          { weight: 3, arbitrary: mutations.map(as(file)) },
          // 1.root.json is pinned: re-signing it only meets the pin again
          ...(file === '1.root.json' ? [] : [{ weight: 3, arbitrary: mutations.map(as(`resign ${file}`)) }]),
        ];
      })
    ),
  async run(ctx, input) {
    const { file, resign, bytes } = split(input);
    const files = new Map(ctx.files);
    if (files.has(file)) files.set(file, resign ? await resigned(ctx, file, bytes) : bytes);
    if (resign && files.has(file)) {
      if (file === 'targets.json' || file === 'team.json') await relist(ctx, files, 'snapshot.json', file);
      if (file === 'snapshot.json' || file === 'targets.json' || file === 'team.json')
        await relist(ctx, files, 'timestamp.json', 'snapshot.json');
    }
    const { trusted, hit } = await refresh(ctx, files);
    expectModel(Number.isSafeInteger(trusted.root.signed.version), 'root version');
    expectModel(trusted.timestamp && trusted.snapshot && trusted.targets, 'timestamp/snapshot/targets');
    if (resign) {
      // signed by trusted keys: hostile content may pass, but only as a whole model
      expectModel(!hit || (typeof hit.role === 'string' && typeof hit.target.path === 'string'), 'target');
      return;
    }
    expectModel(trusted.root.signed.version === 2, `root version ${trusted.root.signed.version}`);
    expectModel(trusted.timestamp && trusted.snapshot && trusted.targets, 'timestamp/snapshot/targets');
    expectModel(trusted.delegated.has('team'), 'delegated role team');
    expectModel(hit?.role === 'team' && typeof hit.target.length === 'number', 'delegated target');
    // A refresh passed: every file it read (all but the unread copy root.json) must carry a seed's signed content.
    if (file !== 'root.json' && files.has(file) && signedOf(bytes) !== ctx.signed.get(file))
      throw new OracleViolation(`refresh passed over ${file} with altered signed content`);
  },
};
