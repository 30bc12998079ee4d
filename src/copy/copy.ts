import { readFile } from 'node:fs/promises';
import { Transform } from 'node:stream';
import {
  OciError,
  formatReference,
  isManifestMediaType,
  isNotFound,
  isValidTag,
  parseDigest,
  parseReference,
  successors,
  type Descriptor,
  type Manifest,
  type Reference,
} from '../oci/index.ts';
import {
  fetchAll,
  fetchManifest,
  openTarget,
  type OpenOptions,
  type ReadableTarget,
  type Target,
} from '../store/index.ts';
import { Limiter, SignetError } from '../util/index.ts';
import { carryTrustedRoot, checkTrustedRoot } from './trusted-root.ts';

export type CopyEvent =
  | { kind: 'start'; desc: Descriptor }
  | { kind: 'progress'; desc: Descriptor; bytes: number }
  | { kind: 'done'; desc: Descriptor }
  | { kind: 'skip'; desc: Descriptor }
  | { kind: 'mount'; desc: Descriptor };

export interface CopyOptions {
  /** Carry referrers (signatures, SBOMs, their signatures), recursively. Default true. */
  referrers?: boolean;
  /** Blobs copied at once. Default 4. */
  concurrency?: number;
  onProgress?: (event: CopyEvent) => void;
  /** Bound on the referrers recursion. Default 16. */
  maxDepth?: number;
  /** Bound on the number of nodes in the graph. Default 100 000. */
  maxNodes?: number;
  /**
   * A Sigstore trusted_root.json (a file or its bytes) to carry into the destination beside the
   * artifact: an OCI artifact tagged `sigstore-trusted-root` (carryTrustedRoot). Verifiers use it
   * only when their policy pins its digest.
   */
  trustedRoot?: string | Uint8Array;
}

export interface CopyReport {
  root: Descriptor;
  copied: number;
  copiedBytes: number;
  skipped: number;
  mounted: number;
  referrers: number;
  manifests: number;
  /** The trusted root carried (`trustedRoot`): its digest is what a policy's `trustedRootDigest` pins. */
  trustedRoot?: Descriptor;
  /** The TUF repository carried (`tuf`): its bundle, tagged `tuf` in the destination. */
  tuf?: { source: string; bundle: Descriptor; destination: string };
}

/**
 * Copies the content graph under `root` — and, by default, the referrers graph around it — from
 * `src` to `dst`. Children are always copied before their parents, so the destination never holds
 * a manifest whose blobs or child manifests are missing; content the destination has is skipped;
 * blobs stream from source to destination (verified on both sides), a few at a time.
 */
export async function copyGraph(
  src: ReadableTarget,
  dst: Target,
  root: Descriptor,
  options: CopyOptions = {}
): Promise<CopyReport> {
  const report: CopyReport = { root, copied: 0, copiedBytes: 0, skipped: 0, mounted: 0, referrers: 0, manifests: 0 };
  const emit = options.onProgress ?? (() => {});
  const limit = new Limiter(options.concurrency ?? 4);
  const maxDepth = options.maxDepth ?? 16;
  const maxNodes = options.maxNodes ?? 100_000;
  const done = new Map<string, Promise<void>>();
  let nodes = 0;

  const copyBlob = async (desc: Descriptor): Promise<void> => {
    if (await dst.exists(desc)) {
      report.skipped++;
      emit({ kind: 'skip', desc });
      return;
    }
    if (dst.mount && (await dst.mount(desc, src))) {
      report.mounted++;
      emit({ kind: 'mount', desc });
      return;
    }
    await limit.run(async () => {
      emit({ kind: 'start', desc });
      const source = await src.fetch(desc);
      // Count through a transform, not a 'data' listener: a listener would start the flow
      // before the destination is ready and bytes would be lost.
      let bytes = 0;
      const counter = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          bytes += chunk.length;
          emit({ kind: 'progress', desc, bytes });
          cb(null, chunk);
        },
      });
      source.on('error', (err) => counter.destroy(err));
      await dst.push(desc, source.pipe(counter));
      report.copied++;
      report.copiedBytes += desc.size;
      emit({ kind: 'done', desc });
    });
  };

  // Copies a node and everything below it; returns once it is in dst. Memoised by digest so
  // shared blobs and diamond-shaped graphs are copied once.
  const copyNode = (desc: Descriptor, depth: number): Promise<void> => {
    const existing = done.get(desc.digest);
    if (existing) return existing;
    if (++nodes > maxNodes)
      throw new OciError('SIZE_EXCEEDED', `graph under ${root.digest} has more than ${maxNodes} nodes`);
    const p = (async () => {
      if (!isManifestMediaType(desc.mediaType)) return copyBlob(desc);
      const { manifest, bytes } = await fetchManifest(src, desc);
      await Promise.all(successors(manifest).map((child) => copyNode(child, depth)));
      if (await dst.exists(desc)) {
        report.skipped++;
        emit({ kind: 'skip', desc });
      } else {
        emit({ kind: 'start', desc });
        await dst.push(desc, bytes);
        report.copied++;
        report.copiedBytes += desc.size;
        report.manifests++;
        emit({ kind: 'done', desc });
      }
      if (options.referrers !== false && depth < maxDepth) await copyReferrers(desc, manifest, depth);
    })();
    done.set(desc.digest, p);
    return p;
  };

  const copyReferrers = async (desc: Descriptor, _manifest: Manifest, depth: number): Promise<void> => {
    const list = await src.referrers(desc);
    await Promise.all(
      list.map(async (r) => {
        if (!done.has(r.digest)) report.referrers++;
        // A referrer's subject is pushed first (above), so registries with the tag-schema
        // fallback can index it, and it is never a dangling subject in the destination.
        await copyNode({ mediaType: r.mediaType, digest: r.digest, size: r.size }, depth + 1);
      })
    );
  };

  await copyNode(root, 0);
  return report;
}

/** Options of a copy between two references. */
export interface CopyRefOptions extends CopyOptions {
  /** How both ends are opened (credentials, plain HTTP, referrers); a missing destination layout is created. */
  open?: OpenOptions;
  /**
   * A TUF repository (Layer B, docs/freshness.md: a reference with a tag) to carry beside the
   * artifact: its bundle is copied into the destination repository or layout under the tag
   * `tuf`, where a statement's `freshness.tuf` can name it. Nothing in it is trusted for being
   * there: the verifier pins the first root.
   */
  tuf?: string;
}

/** The tag a carried TUF repository gets in the destination. */
export const CARRIED_TUF_TAG = 'tuf';

/** Both ends of a copy, checked before any work is done. */
export interface CopyPlan {
  src: Reference;
  dst: Reference;
  /**
   * The name the copy gets in the destination: its own tag or ref, else the source tag (a source
   * named by digest gives none). A source layout named by nothing can still fill it in once open.
   */
  name?: string;
}

const usage = (message: string): SignetError => new SignetError('USAGE', message);

/** The layout ref grammar of oci/reference.ts (an OCI tag or a Flatpak ref), as its parser applies it. */
function isLayoutRefName(name: string): boolean {
  try {
    return parseReference(`oci:.:${name}`).tag === name;
  } catch {
    return false;
  }
}

/** Manifest names a target takes: OCI tags, and in a layout (or a target with ref names) Flatpak refs too. */
function acceptsName(dst: Target | Reference, name: string): boolean {
  if (isValidTag(name)) return true;
  const layout =
    'kind' in dst ? dst.kind === 'layout' : typeof (dst as { setRefName?: unknown }).setRefName === 'function';
  return layout && isLayoutRefName(name);
}

function refuseName(dstName: string, name: string): never {
  throw usage(
    `cannot name the copy ${JSON.stringify(name)} in ${dstName}: a registry tag is [A-Za-z0-9_][A-Za-z0-9._-]{0,127} ` +
      '(Flatpak refs name manifests of OCI layouts only); give the destination a tag'
  );
}

/**
 * Checks the two references of a copy without touching either end: both parse (malformed is a
 * usage error), the destination names no digest and is writable, the source names what to copy,
 * and the name the copy gets is one the destination can hold. Nothing is opened or created.
 */
export function checkCopyReferences(srcRef: string, dstRef: string): CopyPlan {
  const src = parseReference(srcRef);
  const dst = parseReference(dstRef);
  if (dst.digest) throw usage(`destination ${dstRef} must not name a digest (it is the source's)`);
  if (dst.kind === 'layout' && /^https?:\/\//i.test(dst.path)) {
    throw usage(`destination ${dstRef} is a layout over HTTP, which is read-only: copy into oci:DIR or oci:FILE.tar`);
  }
  // A layout holding one named manifest needs no name (openTarget finds it); a registry does.
  if (src.kind === 'registry' && !src.tag && !src.digest) throw usage(`source ${srcRef} needs a tag or digest`);
  const name = dst.tag ?? (src.digest ? undefined : src.tag);
  if (name !== undefined && !acceptsName(dst, name)) refuseName(formatReference({ ...dst, tag: undefined }), name);
  return { src, dst, ...(name !== undefined ? { name } : {}) };
}

/**
 * Resolves `srcRef` (a tag or digest) in `src`, copies its graph to `dst`, and names it there
 * (`dstTag`, else the source tag when the source was named by tag; a Flatpak ref in a layout).
 * The name is checked before anything is copied.
 */
export async function copyTargets(
  src: ReadableTarget,
  srcRef: string,
  dst: Target,
  dstTag: string | undefined,
  options: CopyOptions = {}
): Promise<CopyReport> {
  return copyBetween(src, srcRef, dst, dstTag, options);
}

/** The same as copyTargets (the form copy() has always taken). */
export async function copy(
  src: ReadableTarget,
  srcRef: string,
  dst: Target,
  dstTag: string | undefined,
  options?: CopyOptions
): Promise<CopyReport>;
/**
 * Copies the artifact `srcRef` names, with its referrers graph, to `dstRef` (registry or `oci:`
 * layout, created when missing), and names it there (the destination tag or ref, else the
 * source tag). Every argument is checked before anything is opened. (Last, so that
 * `Parameters<typeof copy>` is this form.)
 */
export async function copy(srcRef: string, dstRef: string, options?: CopyRefOptions): Promise<CopyReport>;
export async function copy(
  a: ReadableTarget | string,
  b: string,
  c?: Target | CopyRefOptions,
  d?: string,
  e?: CopyOptions
): Promise<CopyReport> {
  if (typeof a === 'string') return copyReferences(a, b, (c ?? {}) as CopyRefOptions);
  return copyBetween(a, b, c as Target, d, e ?? {});
}

async function copyReferences(srcRef: string, dstRef: string, options: CopyRefOptions): Promise<CopyReport> {
  const { open, tuf, ...copyOptions } = options;
  const plan = checkCopyReferences(srcRef, dstRef);
  if (tuf !== undefined) checkTufReference(tuf);
  const src = await openTarget(plan.src, open);
  try {
    if (!src.reference) {
      const named = (await src.target.tags()).length;
      throw usage(`source ${srcRef} needs a tag or digest (the layout holds ${named} named manifests)`);
    }
    const dst = await openTarget(plan.dst, { ...open, create: true });
    try {
      const report = await copyBetween(src.target, src.reference, dst.target, plan.dst.tag, copyOptions);
      if (tuf !== undefined) report.tuf = await carryTuf(tuf, dst.target, open);
      return report;
    } finally {
      await dst.target.close();
    }
  } finally {
    await src.target.close();
  }
}

/** A TUF repository to carry is named by a tag: checked before anything is copied. */
export function checkTufReference(tuf: string): void {
  const r = parseReference(tuf);
  if (!r.tag || r.digest)
    throw usage(`--tuf ${tuf}: a TUF repository is named by a tag (reg/acme/tuf-metadata:latest, oci:DIR:tuf)`);
}

/** Copies the TUF bundle `tufRef` names (resolved once) into `dst` under the tag `tuf`. */
export async function carryTuf(
  tufRef: string,
  dst: Target,
  open: OpenOptions | undefined
): Promise<NonNullable<CopyReport['tuf']>> {
  const t = await openTarget(tufRef, open);
  try {
    const d = await t.target.resolve(t.reference!);
    const bundle: Descriptor = { mediaType: d.mediaType, digest: d.digest, size: d.size };
    await copyGraph(t.target, dst, bundle, { referrers: false });
    await nameManifest(dst, bundle, CARRIED_TUF_TAG, await fetchAll(t.target, bundle));
    return { source: tufRef, bundle, destination: `${dst.name}:${CARRIED_TUF_TAG}` };
  } finally {
    await t.target.close();
  }
}

async function copyBetween(
  src: ReadableTarget,
  srcRef: string,
  dst: Target,
  dstTag: string | undefined,
  options: CopyOptions
): Promise<CopyReport> {
  const tag = dstTag ?? (srcRef.includes(':') ? undefined : srcRef);
  // Checked before a byte moves: a name the destination cannot hold would fail only at the end.
  if (tag !== undefined && !acceptsName(dst, tag)) refuseName(dst.name, tag);
  const trusted =
    typeof options.trustedRoot === 'string'
      ? await readFile(options.trustedRoot).catch((err: Error) => {
          throw usage(`trusted root ${String(options.trustedRoot)} cannot be read: ${err.message}`);
        })
      : options.trustedRoot;
  const where = typeof options.trustedRoot === 'string' ? options.trustedRoot : 'the trusted root';
  if (trusted !== undefined) checkTrustedRoot(trusted, where); // before a byte moves
  const root = await src.resolve(srcRef);
  const desc: Descriptor = { mediaType: root.mediaType, digest: root.digest, size: root.size };
  const { trustedRoot: _root, ...graphOptions } = options;
  const report = await copyGraph(src, dst, desc, graphOptions);
  // The source's bytes name the copy: the destination need not serve them back (an enforcing
  // registry would not, for what is not signed yet).
  if (tag !== undefined) await nameManifest(dst, desc, tag, await fetchAll(src, desc));
  if (options.referrers !== false) await copyCosignTag(src, dst, desc, options, report);
  if (trusted !== undefined) report.trustedRoot = (await carryTrustedRoot(dst, trusted, where)).root;
  return report;
}

/** Tags the copy; a Flatpak ref goes into a layout's index.json as its ref name. */
async function nameManifest(dst: Target, desc: Descriptor, name: string, manifest?: Uint8Array): Promise<void> {
  if (isValidTag(name)) return dst.tag(desc, name, manifest ? { manifest } : {});
  await (dst as Target & { setRefName(desc: Descriptor, ref: string): Promise<void> }).setRefName(desc, name);
}

/**
 * cosign keeps signatures under a `sha256-<hex>.sig` tag and legacy attestations under `.att`
 * rather than as referrers: they travel with the artifact too (manifest, config and layers), tags included.
 */
async function copyCosignTag(
  src: ReadableTarget,
  dst: Target,
  root: Descriptor,
  options: CopyOptions,
  report: CopyReport
): Promise<void> {
  const { algorithm, hex } = parseDigest(root.digest);
  // `.sig` (signatures) and `.att` (legacy attestations), each a tag of its own
  for (const suffix of ['sig', 'att']) {
    const tag = `${algorithm}-${hex}.${suffix}`;
    let m: Descriptor;
    try {
      const d = await src.resolve(tag);
      m = { mediaType: d.mediaType, digest: d.digest, size: d.size };
    } catch (err) {
      if (isNotFound(err)) continue;
      throw err;
    }
    const r = await copyGraph(src, dst, m, { ...options, referrers: false });
    await dst.tag(m, tag);
    report.copied += r.copied;
    report.copiedBytes += r.copiedBytes;
    report.skipped += r.skipped;
    report.mounted += r.mounted;
    report.referrers += 1;
  }
}
