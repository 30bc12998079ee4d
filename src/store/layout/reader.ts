import { pipeline, type Readable } from 'node:stream';
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
import { Limiter } from '../../util/index.ts';
import { readAll } from '../content.ts';
import type { Target } from '../target.ts';

export const REF_NAME = 'org.opencontainers.image.ref.name';
/** How many manifests a referrers scan reads at most (a hostile layout cannot make it endless). */
const MAX_SCAN = 100_000;
/** Manifests read at once during a scan: matters over HTTP, harmless on disk. */
const SCAN_CONCURRENCY = 8;
/** A reference that names a digest rather than a ref name (ref names and tags cannot hold `sha256:`). */
const DIGEST_LIKE = /^sha(?:256|512):/;

/** What a scan learnt from one manifest; content addressed, so it stays true across index.json versions. */
interface ScannedManifest {
  /** Set when the manifest is a referrer. */
  subject?: string;
  referrer?: Descriptor;
  /** Child manifests (of an image index), scanned in turn. */
  children: Descriptor[];
}

/**
 * What every OCI image layout shares, whatever holds it (a directory, a tar, a web server):
 * index.json is the root, blobs are content addressed, tags are ref.name annotations, and
 * referrers are found by scanning the `subject` of the manifests reachable from index.json.
 */
export abstract class LayoutReader implements Pick<Target, 'resolve' | 'exists' | 'fetch' | 'referrers' | 'tags'> {
  abstract readonly name: string;
  private scanCache: { key: string; bySubject: Map<string, Descriptor[]> } | null = null;
  private readonly scanned = new Map<string, ScannedManifest>();

  /** Raw index.json bytes (bounded by the implementation). */
  protected abstract readIndexBytes(): Promise<Buffer>;
  /** The raw blob, unverified; the caller verifies. Throws a not-found OciError when absent. */
  protected abstract openBlob(digest: string): Promise<Readable>;
  abstract exists(desc: Descriptor): Promise<boolean>;

  /** Forgets what was learnt about a manifest (it was deleted). */
  protected forgetManifest(digest: string): void {
    this.scanned.delete(digest);
    this.scanCache = null;
  }

  async readIndex(): Promise<ImageIndex> {
    return this.parseIndex(await this.readIndexBytes());
  }

  protected parseIndex(bytes: Uint8Array): ImageIndex {
    try {
      const idx = parseManifest(bytes, MediaType.ImageIndex);
      if (!isImageIndex(idx)) throw new OciError('MANIFEST_INVALID', 'not an index');
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
        throw new OciError(
          isManifestMediaType(desc.mediaType) ? 'MANIFEST_UNKNOWN' : 'BLOB_UNKNOWN',
          `${this.name}: ${desc.digest} not found`
        );
      }
      throw err;
    }
    // pipeline, not pipe: a consumer that stops early must close the file or the HTTP connection too.
    return pipeline(raw, new VerifyingStream(desc), () => {});
  }

  /** Reads a manifest by digest when its size is unknown (bounded), returning bytes and media type. */
  protected async readManifestByDigest(digest: string): Promise<{ bytes: Uint8Array; mediaType: string }> {
    const bytes = await this.fetchByDigest(digest, MAX_MANIFEST_SIZE);
    return { bytes, mediaType: this.detectMediaType(bytes, digest) };
  }

  /** The media type of an unlisted manifest: its own mediaType field, else its shape. */
  private detectMediaType(bytes: Uint8Array, digest: string): string {
    let j: { mediaType?: unknown; schemaVersion?: unknown; manifests?: unknown; config?: unknown; layers?: unknown };
    try {
      j = JSON.parse(Buffer.from(bytes).toString('utf8')) as typeof j;
    } catch {
      throw new OciError('MANIFEST_INVALID', `${this.name}: ${digest} is not a manifest (not JSON)`);
    }
    let mediaType: string | undefined;
    if (typeof j === 'object' && j !== null && j.schemaVersion === 2) {
      if (typeof j.mediaType === 'string') mediaType = j.mediaType;
      else if (Array.isArray(j.manifests)) mediaType = MediaType.ImageIndex;
      else if (typeof j.config === 'object' && Array.isArray(j.layers)) mediaType = MediaType.ImageManifest;
    }
    // A config or any other JSON blob is not a manifest, whatever a digest reference suggests.
    if (!mediaType || !isManifestMediaType(mediaType))
      throw new OciError('MANIFEST_INVALID', `${this.name}: ${digest} is not a manifest`);
    return mediaType;
  }

  /** A blob known only by digest (size unstated), read with a bound and checked against the digest. */
  async fetchByDigest(digest: string, maxSize: number): Promise<Uint8Array> {
    const bytes = await readAll(await this.openBlob(digest), maxSize);
    if (digestOf(bytes, parseDigest(digest).algorithm) !== digest)
      throw new OciError('DIGEST_MISMATCH', `${this.name}: blob ${digest} does not match its digest`);
    return bytes;
  }

  async resolve(reference: string): Promise<Descriptor> {
    const index = await this.readIndex();
    if (DIGEST_LIKE.test(reference)) {
      parseDigest(reference);
      const listed = index.manifests.find((m) => m.digest === reference);
      if (listed) return { mediaType: listed.mediaType, digest: listed.digest, size: listed.size };
      let found: { bytes: Uint8Array; mediaType: string };
      try {
        found = await this.readManifestByDigest(reference);
      } catch (err) {
        if (err instanceof OciError && err.kind === 'notfound')
          throw new OciError('MANIFEST_UNKNOWN', `${this.name}: manifest ${reference} not found`);
        throw err;
      }
      return { mediaType: found.mediaType, digest: reference, size: found.bytes.length };
    }
    // Ref names are matched as exact strings: Flatpak refs such as runtime/org.x/x86_64/stable
    // are not valid OCI tags but are valid ref names in a layout.
    const entries = index.manifests.filter((m) => m.annotations?.[REF_NAME] === reference);
    const entry = entries[entries.length - 1];
    if (!entry) throw new OciError('MANIFEST_UNKNOWN', `${this.name}: tag ${reference} not found`);
    return {
      mediaType: entry.mediaType,
      digest: entry.digest,
      size: entry.size,
      ...(entry.annotations ? { annotations: entry.annotations } : {}),
    };
  }

  async tags(): Promise<string[]> {
    const index = await this.readIndex();
    const names = index.manifests
      .map((m) => m.annotations?.[REF_NAME])
      .filter((t): t is string => typeof t === 'string');
    return [...new Set(names)].sort();
  }

  /** Reads one manifest for the scan; null when its blob is missing (a dangling entry lists no referrers). */
  private async scanOne(d: Descriptor): Promise<ScannedManifest | null> {
    const known = this.scanned.get(d.digest);
    if (known) return known;
    let m: Manifest;
    try {
      const bytes = await readAll(await this.fetch(d), MAX_MANIFEST_SIZE); // fetch verifies digest and size
      m = parseManifest(bytes, d.mediaType);
    } catch (err) {
      if (err instanceof OciError && err.kind === 'notfound') return null;
      throw new OciError(
        err instanceof OciError ? err.code : 'MANIFEST_INVALID',
        `${this.name}: manifest ${d.digest}: ${(err as Error).message}`,
        { cause: err }
      );
    }
    const out: ScannedManifest = { children: isIndexMediaType(d.mediaType) && isImageIndex(m) ? m.manifests : [] };
    if (m.subject) {
      out.subject = m.subject.digest;
      out.referrer = referrerDescriptor(d, m);
    }
    if (this.scanned.size >= MAX_SCAN) this.scanned.clear();
    this.scanned.set(d.digest, out);
    return out;
  }

  /** Every manifest reachable from index.json (through indexes), keyed by subject digest. */
  private async scan(): Promise<Map<string, Descriptor[]>> {
    const indexBytes = await this.readIndexBytes();
    const key = digestOf(indexBytes);
    if (this.scanCache?.key === key) return this.scanCache.bySubject;
    const index = this.parseIndex(indexBytes);
    const bySubject = new Map<string, Descriptor[]>();
    const seen = new Set<string>();
    const limiter = new Limiter(SCAN_CONCURRENCY);
    let level: Descriptor[] = index.manifests;
    while (level.length) {
      const todo = level.filter((d) => {
        if (seen.has(d.digest) || !isManifestMediaType(d.mediaType)) return false;
        seen.add(d.digest);
        return true;
      });
      if (seen.size > MAX_SCAN) throw new OciError('SIZE_EXCEEDED', `${this.name}: more than ${MAX_SCAN} manifests`);
      const results = await Promise.all(todo.map((d) => limiter.run(() => this.scanOne(d))));
      level = [];
      for (const r of results) {
        if (!r) continue;
        if (r.subject && r.referrer) {
          const list = bySubject.get(r.subject) ?? [];
          if (!list.some((x) => x.digest === r.referrer!.digest)) list.push(r.referrer);
          bySubject.set(r.subject, list);
        }
        level.push(...r.children);
      }
    }
    this.scanCache = { key, bySubject };
    return bySubject;
  }

  async referrers(subject: Descriptor, artifactType?: string): Promise<Descriptor[]> {
    const list = (await this.scan()).get(subject.digest) ?? [];
    return (artifactType === undefined ? list : list.filter((d) => d.artifactType === artifactType))
      .slice()
      .sort((a, b) => a.digest.localeCompare(b.digest));
  }
}
