import { Transform } from 'node:stream';
import {
  OciError,
  isManifestMediaType,
  isNotFound,
  parseDigest,
  successors,
  type Descriptor,
  type Manifest,
} from '../oci/index.ts';
import { fetchManifest, type Target } from '../store/index.ts';
import { Limiter } from '../util/index.ts';

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
}

export interface CopyReport {
  root: Descriptor;
  copied: number;
  copiedBytes: number;
  skipped: number;
  mounted: number;
  referrers: number;
  manifests: number;
}

/**
 * Copies the content graph under `root` — and, by default, the referrers graph around it — from
 * `src` to `dst`. Children are always copied before their parents, so the destination never holds
 * a manifest whose blobs or child manifests are missing; content the destination has is skipped;
 * blobs stream from source to destination (verified on both sides), a few at a time.
 */
export async function copyGraph(src: Target, dst: Target, root: Descriptor, options: CopyOptions = {}): Promise<CopyReport> {
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
    if (++nodes > maxNodes) throw new OciError('SIZE_EXCEEDED', `graph under ${root.digest} has more than ${maxNodes} nodes`);
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
      }),
    );
  };

  await copyNode(root, 0);
  return report;
}

/**
 * Resolves `srcRef` in `src`, copies its graph to `dst`, and tags it there (`dstTag`, else the
 * source tag when the source was named by tag).
 */
export async function copy(src: Target, srcRef: string, dst: Target, dstTag: string | undefined, options: CopyOptions = {}): Promise<CopyReport> {
  const root = await src.resolve(srcRef);
  const desc: Descriptor = { mediaType: root.mediaType, digest: root.digest, size: root.size };
  const report = await copyGraph(src, dst, desc, options);
  const tag = dstTag ?? (srcRef.includes(':') ? undefined : srcRef);
  if (tag !== undefined) await dst.tag(desc, tag);
  if (options.referrers !== false) await copyCosignTag(src, dst, desc, options, report);
  return report;
}

/**
 * cosign keeps signatures under a `sha256-<hex>.sig` tag rather than as referrers: it travels
 * with the artifact too (its manifest, config and payload layers), tag included.
 */
async function copyCosignTag(src: Target, dst: Target, root: Descriptor, options: CopyOptions, report: CopyReport): Promise<void> {
  const { algorithm, hex } = parseDigest(root.digest);
  const sigTag = `${algorithm}-${hex}.sig`;
  let sig: Descriptor;
  try {
    const d = await src.resolve(sigTag);
    sig = { mediaType: d.mediaType, digest: d.digest, size: d.size };
  } catch (err) {
    if (isNotFound(err)) return;
    throw err;
  }
  const r = await copyGraph(src, dst, sig, { ...options, referrers: false });
  await dst.tag(sig, sigTag);
  report.copied += r.copied;
  report.copiedBytes += r.copiedBytes;
  report.skipped += r.skipped;
  report.mounted += r.mounted;
  report.referrers += 1;
}
