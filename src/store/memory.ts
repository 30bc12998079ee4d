import { Readable } from 'node:stream';
import {
  OciError,
  isManifestMediaType,
  parseManifest,
  referrerDescriptor,
  validateTag,
  verifyBytes,
  type Descriptor,
  type Manifest,
} from '../oci/index.ts';
import { readAll } from './content.ts';
import type { Target } from './target.ts';

interface Entry {
  desc: Descriptor;
  bytes: Uint8Array;
  manifest?: Manifest;
}

/**
 * A target held in memory: for tests, and as a cache. Content is verified on push like every
 * other target, so a test that passes here does not hide a digest bug.
 */
export class MemoryTarget implements Target {
  readonly name: string;
  private readonly content = new Map<string, Entry>();
  private readonly tagMap = new Map<string, Descriptor>();
  /** Upper bound of bytes one push may hold in memory. */
  private readonly maxBlobSize: number;

  constructor(name = 'memory', options: { maxBlobSize?: number } = {}) {
    this.name = name;
    this.maxBlobSize = options.maxBlobSize ?? 1024 * 1024 * 1024;
  }

  async resolve(reference: string): Promise<Descriptor> {
    if (reference.includes(':')) {
      const e = this.content.get(reference);
      if (!e || !e.manifest) throw new OciError('MANIFEST_UNKNOWN', `${this.name}: manifest ${reference} not found`);
      return { ...e.desc };
    }
    const d = this.tagMap.get(reference);
    if (!d) throw new OciError('MANIFEST_UNKNOWN', `${this.name}: tag ${reference} not found`);
    return { ...d };
  }

  async exists(desc: Descriptor): Promise<boolean> {
    return this.content.has(desc.digest);
  }

  async fetch(desc: Descriptor): Promise<Readable> {
    const e = this.content.get(desc.digest);
    if (!e)
      throw new OciError(
        isManifestMediaType(desc.mediaType) ? 'MANIFEST_UNKNOWN' : 'BLOB_UNKNOWN',
        `${this.name}: ${desc.digest} not found`
      );
    verifyBytes(e.bytes, desc);
    return Readable.from([Buffer.from(e.bytes)]);
  }

  async push(desc: Descriptor, content: Readable | Uint8Array): Promise<void> {
    const bytes =
      content instanceof Uint8Array ? content : await readAll(content, Math.min(desc.size, this.maxBlobSize));
    verifyBytes(bytes, desc);
    const entry: Entry = { desc: { mediaType: desc.mediaType, digest: desc.digest, size: desc.size }, bytes };
    if (isManifestMediaType(desc.mediaType)) entry.manifest = parseManifest(bytes, desc.mediaType);
    this.content.set(desc.digest, entry);
  }

  async tag(desc: Descriptor, tag: string): Promise<void> {
    validateTag(tag);
    const e = this.content.get(desc.digest);
    if (!e || !e.manifest) throw new OciError('MANIFEST_UNKNOWN', `${this.name}: cannot tag ${desc.digest}: not found`);
    this.tagMap.set(tag, { ...e.desc });
  }

  async delete(desc: Descriptor): Promise<void> {
    if (!this.content.delete(desc.digest)) throw new OciError('BLOB_UNKNOWN', `${this.name}: ${desc.digest} not found`);
    for (const [t, d] of this.tagMap) if (d.digest === desc.digest) this.tagMap.delete(t);
  }

  async referrers(subject: Descriptor, artifactType?: string): Promise<Descriptor[]> {
    const out: Descriptor[] = [];
    for (const e of this.content.values()) {
      if (!e.manifest || e.manifest.subject?.digest !== subject.digest) continue;
      const r = referrerDescriptor(e.desc, e.manifest);
      if (artifactType === undefined || r.artifactType === artifactType) out.push(r);
    }
    return out.sort((a, b) => a.digest.localeCompare(b.digest));
  }

  async tags(): Promise<string[]> {
    return [...this.tagMap.keys()].sort();
  }

  async close(): Promise<void> {}
}
