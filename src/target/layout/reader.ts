import type { Readable } from 'node:stream';
import {
  MAX_MANIFEST_SIZE,
  MediaType,
  OciError,
  VerifyingStream,
  digestOf,
  isImageIndex,
  isIndexMediaType,
  isManifestMediaType,
  parseDigest,
  parseManifest,
  referrerDescriptor,
  type Descriptor,
  type ImageIndex,
  type Manifest,
} from '../../oci/index.ts';
import { readAll } from '../content.ts';
import type { Target } from '../target.ts';

export const REF_NAME = 'org.opencontainers.image.ref.name';
/** How many manifests a referrers scan reads at most (a hostile layout cannot make it endless). */
const MAX_SCAN = 100_000;

/**
 * What every OCI image layout shares, whatever holds it (a directory, a tar, a web server):
 * index.json is the root, blobs are content addressed, tags are ref.name annotations, and
 * referrers are found by scanning the `subject` of the manifests reachable from index.json.
 */
export abstract class LayoutReader implements Pick<Target, 'resolve' | 'exists' | 'fetch' | 'referrers' | 'tags'> {
  abstract readonly name: string;
  private scanCache: { key: string; bySubject: Map<string, Descriptor[]> } | null = null;

  /** Raw index.json bytes (bounded by the implementation). */
  protected abstract readIndexBytes(): Promise<Buffer>;
  /** The raw blob, unverified; the caller verifies. Throws a not-found OciError when absent. */
  protected abstract openBlob(digest: string): Promise<Readable>;
  abstract exists(desc: Descriptor): Promise<boolean>;

  async readIndex(): Promise<ImageIndex> {
    const bytes = await this.readIndexBytes();
    try {
      const idx = parseManifest(bytes, MediaType.ImageIndex);
      if (!isImageIndex(idx)) throw new Error('not an index');
      return idx;
    } catch (err) {
      throw new OciError('MANIFEST_INVALID', `${this.name}: index.json is invalid: ${(err as Error).message}`);
    }
  }

  async fetch(desc: Descriptor): Promise<Readable> {
    parseDigest(desc.digest);
    let raw: Readable;
    try {
      raw = await this.openBlob(desc.digest);
    } catch (err) {
      if (err instanceof OciError && err.kind === 'notfound') {
        throw new OciError(isManifestMediaType(desc.mediaType) ? 'MANIFEST_UNKNOWN' : 'BLOB_UNKNOWN', `${this.name}: ${desc.digest} not found`);
      }
      throw err;
    }
    const v = new VerifyingStream(desc);
    raw.on('error', (e) => v.destroy(e));
    return raw.pipe(v);
  }

  /** Reads a manifest by digest when its size is unknown (bounded), returning bytes and media type. */
  protected async readManifestByDigest(digest: string): Promise<{ bytes: Uint8Array; mediaType: string }> {
    const raw = await this.openBlob(digest);
    const bytes = await readAll(raw, MAX_MANIFEST_SIZE);
    const { algorithm } = parseDigest(digest);
    if (digestOf(bytes, algorithm) !== digest) throw new OciError('DIGEST_MISMATCH', `${this.name}: blob ${digest} does not match its digest`);
    let mediaType: string | undefined;
    try {
      const j = JSON.parse(Buffer.from(bytes).toString('utf8')) as { mediaType?: string; manifests?: unknown };
      mediaType = j.mediaType ?? (Array.isArray(j.manifests) ? MediaType.ImageIndex : MediaType.ImageManifest);
    } catch {
      throw new OciError('MANIFEST_INVALID', `${this.name}: ${digest} is not a manifest`);
    }
    return { bytes, mediaType };
  }

  /** A blob known only by digest (size unstated), read with a bound and checked against the digest. */
  async fetchByDigest(digest: string, maxSize: number): Promise<Uint8Array> {
    const bytes = await readAll(await this.openBlob(digest), maxSize);
    if (digestOf(bytes, parseDigest(digest).algorithm) !== digest) throw new OciError('DIGEST_MISMATCH', `${this.name}: blob ${digest} does not match its digest`);
    return bytes;
  }

  async resolve(reference: string): Promise<Descriptor> {
    const index = await this.readIndex();
    if (reference.includes(':') && /^[a-z0-9]+:[a-f0-9]+$/.test(reference)) {
      parseDigest(reference);
      const listed = index.manifests.find((m) => m.digest === reference);
      if (listed) return { mediaType: listed.mediaType, digest: listed.digest, size: listed.size };
      let found: { bytes: Uint8Array; mediaType: string };
      try {
        found = await this.readManifestByDigest(reference);
      } catch (err) {
        if (err instanceof OciError && err.kind === 'notfound') throw new OciError('MANIFEST_UNKNOWN', `${this.name}: manifest ${reference} not found`);
        throw err;
      }
      return { mediaType: found.mediaType, digest: reference, size: found.bytes.length };
    }
    // Tags are matched as exact strings: Flatpak refs such as runtime/org.x/x86_64/stable are not
    // valid OCI tags but are valid ref names in a layout.
    const entries = index.manifests.filter((m) => m.annotations?.[REF_NAME] === reference);
    const entry = entries[entries.length - 1];
    if (!entry) throw new OciError('MANIFEST_UNKNOWN', `${this.name}: tag ${reference} not found`);
    return { mediaType: entry.mediaType, digest: entry.digest, size: entry.size, ...(entry.annotations ? { annotations: entry.annotations } : {}) };
  }

  async tags(): Promise<string[]> {
    const index = await this.readIndex();
    const names = index.manifests.map((m) => m.annotations?.[REF_NAME]).filter((t): t is string => typeof t === 'string');
    return [...new Set(names)].sort();
  }

  /** Every manifest reachable from index.json (through indexes), keyed by subject digest. */
  private async scan(): Promise<Map<string, Descriptor[]>> {
    const indexBytes = await this.readIndexBytes();
    const key = digestOf(indexBytes);
    if (this.scanCache?.key === key) return this.scanCache.bySubject;
    const index = await this.readIndex();
    const bySubject = new Map<string, Descriptor[]>();
    const seen = new Set<string>();
    const queue: Descriptor[] = [...index.manifests];
    while (queue.length) {
      const d = queue.shift()!;
      if (seen.has(d.digest) || !isManifestMediaType(d.mediaType)) continue;
      seen.add(d.digest);
      if (seen.size > MAX_SCAN) throw new OciError('SIZE_EXCEEDED', `${this.name}: more than ${MAX_SCAN} manifests`);
      let m: Manifest;
      try {
        const bytes = await readAll(await this.fetch(d), MAX_MANIFEST_SIZE);
        m = parseManifest(bytes, d.mediaType);
      } catch (err) {
        if (err instanceof OciError && err.kind === 'notfound') continue; // a dangling entry lists no referrers
        throw err;
      }
      if (m.subject) {
        const list = bySubject.get(m.subject.digest) ?? [];
        if (!list.some((x) => x.digest === d.digest)) list.push(referrerDescriptor(d, m));
        bySubject.set(m.subject.digest, list);
      }
      if (isIndexMediaType(d.mediaType) && isImageIndex(m)) queue.push(...m.manifests);
    }
    this.scanCache = { key, bySubject };
    return bySubject;
  }

  async referrers(subject: Descriptor, artifactType?: string): Promise<Descriptor[]> {
    const list = (await this.scan()).get(subject.digest) ?? [];
    return (artifactType === undefined ? list : list.filter((d) => d.artifactType === artifactType)).slice().sort((a, b) => a.digest.localeCompare(b.digest));
  }
}
