import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isValidTag, OciError, parseDigest, VerifyingStream, type Descriptor } from '../../oci/index.ts';
import type { ReadableTarget } from '../../store/index.ts';
import type { RegistryStorage } from '../storage.ts';

/**
 * One repository of the server's own store as a read-only target of the trust engine, so the
 * registry verifies with exactly the code `signet verify` runs. The store is the server's, but
 * nothing in it is trusted for being there: every byte read is checked against its digest.
 */
export class StorageTarget implements ReadableTarget {
  readonly name: string;

  constructor(
    private readonly storage: RegistryStorage,
    private readonly repo: string,
    registryName: string
  ) {
    this.name = `${registryName}/${repo}`;
  }

  async resolve(reference: string): Promise<Descriptor> {
    let digest: string | null = null;
    if (reference.includes(':')) {
      parseDigest(reference);
      digest = reference;
    } else if (isValidTag(reference)) {
      digest = await this.storage.tagDigest(this.repo, reference);
    }
    const info = digest ? await this.storage.manifestInfo(this.repo, digest) : null;
    if (!digest || !info) throw new OciError('MANIFEST_UNKNOWN', `${this.name}: manifest ${reference} not found`);
    return { mediaType: info.mediaType, digest, size: info.size };
  }

  async exists(desc: Descriptor): Promise<boolean> {
    if ((await this.storage.manifestInfo(this.repo, desc.digest)) !== null) return true;
    return (await this.storage.blobSize(this.repo, desc.digest)) !== null;
  }

  async fetch(desc: Descriptor): Promise<Readable> {
    if (!(await this.exists(desc))) {
      throw new OciError('BLOB_UNKNOWN', `${this.name}: ${desc.digest} not found`);
    }
    const verified = new VerifyingStream(desc);
    // pipeline (not pipe) so a read error reaches the consumer instead of leaving it waiting.
    pipeline(this.storage.openBlob(desc.digest), verified).catch(() => {});
    return verified;
  }

  async tags(): Promise<string[]> {
    return (await this.storage.listTags(this.repo)) ?? [];
  }

  async referrers(subject: Descriptor, artifactType?: string): Promise<Descriptor[]> {
    const all = await this.storage.referrers(this.repo, subject.digest);
    return artifactType === undefined ? all : all.filter((d) => d.artifactType === artifactType);
  }

  async close(): Promise<void> {}
}
