
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { randomBytes } from 'node:crypto';
import {
  MAX_MANIFEST_SIZE,
  MediaType,
  OciError,
  encodeManifest,
  isManifestMediaType,
  parseDigest,
  parseManifest,
  validateTag,
  verifyBytes,
  VerifyingStream,
  type Descriptor,
  type ImageIndex,
} from '../../oci/index.ts';
import type { Target } from '../target.ts';
import { LayoutReader, REF_NAME } from './reader.ts';

const LAYOUT_FILE = JSON.stringify({ imageLayoutVersion: '1.0.0' });

async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function writeAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${path}.tmp-${randomBytes(6).toString('hex')}`;
  await writeFile(tmp, data);
  await fsyncPath(tmp);
  await rename(tmp, path);
  await fsyncPath(dirname(path));
}

/** An OCI image layout in a directory, readable and writable. */
export class LayoutTarget extends LayoutReader implements Target {
  readonly name: string;
  readonly writable = true;
  readonly dir: string;
  private lock: Promise<unknown> = Promise.resolve();

  constructor(dir: string, name = `oci:${dir}`) {
    super();
    this.dir = dir;
    this.name = name;
  }

  /** Opens a layout directory; with `create`, makes an empty one when the directory has none. */
  static async open(dir: string, options: { create?: boolean } = {}): Promise<LayoutTarget> {
    let hasLayout = false;
    try {
      hasLayout = (await stat(join(dir, 'oci-layout'))).isFile();
    } catch {
      hasLayout = false;
    }
    if (!hasLayout) {
      if (!options.create) throw new OciError('NOT_FOUND', `oci:${dir}: not an OCI image layout (no oci-layout file)`);
      await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
      await writeAtomic(join(dir, 'oci-layout'), LAYOUT_FILE);
      try {
        await stat(join(dir, 'index.json'));
      } catch {
        await writeAtomic(join(dir, 'index.json'), encodeManifest({ schemaVersion: 2, mediaType: MediaType.ImageIndex, manifests: [] }));
      }
    }
    return new LayoutTarget(dir);
  }

  blobPath(digest: string): string {
    const { algorithm, hex } = parseDigest(digest);
    return join(this.dir, 'blobs', algorithm, hex);
  }

  protected async readIndexBytes(): Promise<Buffer> {
    const path = join(this.dir, 'index.json');
    const st = await stat(path).catch(() => null);
    if (!st) throw new OciError('NOT_FOUND', `${this.name}: index.json missing`);
    if (st.size > MAX_MANIFEST_SIZE) throw new OciError('SIZE_EXCEEDED', `${this.name}: index.json is over ${MAX_MANIFEST_SIZE} bytes`);
    return readFile(path);
  }

  protected async openBlob(digest: string): Promise<Readable> {
    const path = this.blobPath(digest);
    try {
      await stat(path);
    } catch {
      throw new OciError('BLOB_UNKNOWN', `${this.name}: ${digest} not found`);
    }
    return createReadStream(path);
  }

  async exists(desc: Descriptor): Promise<boolean> {
    try {
      return (await stat(this.blobPath(desc.digest))).size === desc.size;
    } catch {
      return false;
    }
  }

  /** Serialises index.json read-modify-write within this process. */
  private withLock<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.lock.then(fn, fn);
    this.lock = next.catch(() => {});
    return next;
  }

  private async updateIndex(change: (index: ImageIndex) => ImageIndex | null): Promise<void> {
    await this.withLock(async () => {
      const index = await this.readIndex(); // re-read: another process may have written it
      const next = change(index);
      if (next) await writeAtomic(join(this.dir, 'index.json'), encodeManifest(next));
    });
  }

  async push(desc: Descriptor, content: Readable | Uint8Array): Promise<void> {
    const path = this.blobPath(desc.digest);
    const manifest = isManifestMediaType(desc.mediaType);
    let bytes: Uint8Array | undefined = content instanceof Uint8Array ? content : undefined;
    if (await this.exists(desc)) {
      if (content instanceof Readable) content.destroy();
    } else {
      await mkdir(dirname(path), { recursive: true });
      const tmp = `${path}.tmp-${randomBytes(6).toString('hex')}`;
      try {
        if (bytes) {
          verifyBytes(bytes, desc);
          await writeFile(tmp, bytes);
        } else {
          const collect = manifest && desc.size <= MAX_MANIFEST_SIZE ? new Collector() : null;
          const check = new VerifyingStream(desc);
          await pipeline(content as Readable, check, ...(collect ? [collect] : []), createWriteStream(tmp, { flags: 'wx' }));
          if (collect) bytes = collect.bytes();
        }
        await fsyncPath(tmp);
        await rename(tmp, path);
        await fsyncPath(dirname(path));
      } catch (err) {
        await unlink(tmp).catch(() => {});
        throw err;
      }
    }
    if (!manifest) return;
    bytes ??= await readFile(path);
    const m = parseManifest(bytes, desc.mediaType);
    // Referrers (signatures, SBOMs) are listed in index.json untagged, as notation and oras do,
    // so that a reader scanning index.json finds them.
    if (m.subject) {
      const entry: Descriptor = { mediaType: desc.mediaType, digest: desc.digest, size: desc.size };
      if (m.artifactType) entry.artifactType = m.artifactType;
      await this.updateIndex((index) => (index.manifests.some((e) => e.digest === desc.digest && !e.annotations?.[REF_NAME]) ? null : { ...index, manifests: [...index.manifests, entry] }));
    }
  }

  async tag(desc: Descriptor, tag: string): Promise<void> {
    validateTag(tag);
    await this.setRefName(desc, tag);
  }

  /** Points a ref name at a manifest; unlike tag(), accepts any non-empty ref name (Flatpak refs). */
  async setRefName(desc: Descriptor, ref: string): Promise<void> {
    if (!ref || ref.length > 1024 || /[\0\n]/.test(ref)) throw new OciError('TAG_INVALID', `invalid ref name ${JSON.stringify(ref.slice(0, 100))}`);
    if (!(await this.exists(desc))) throw new OciError('MANIFEST_UNKNOWN', `${this.name}: cannot tag ${desc.digest}: not in the layout`);
    await this.updateIndex((index) => {
      const manifests = index.manifests.filter((e) => e.annotations?.[REF_NAME] !== ref);
      manifests.push({ mediaType: desc.mediaType, digest: desc.digest, size: desc.size, annotations: { [REF_NAME]: ref } });
      return { ...index, manifests };
    });
  }

  /** Sets annotations on the index.json entries carrying a ref name (Flatpak signature digests). */
  async annotateRef(ref: string, annotations: Record<string, string>): Promise<void> {
    let found = false;
    await this.updateIndex((index) => ({
      ...index,
      manifests: index.manifests.map((e) => {
        if (e.annotations?.[REF_NAME] !== ref) return e;
        found = true;
        return { ...e, annotations: { ...e.annotations, ...annotations } };
      }),
    }));
    if (!found) throw new OciError('MANIFEST_UNKNOWN', `${this.name}: no index entry named ${ref}`);
  }

  async delete(desc: Descriptor): Promise<void> {
    let found = false;
    await this.updateIndex((index) => {
      const manifests = index.manifests.filter((e) => e.digest !== desc.digest);
      found = manifests.length !== index.manifests.length;
      return found ? { ...index, manifests } : null;
    });
    try {
      await unlink(this.blobPath(desc.digest));
      found = true;
    } catch {
      // not there
    }
    if (!found) throw new OciError(isManifestMediaType(desc.mediaType) ? 'MANIFEST_UNKNOWN' : 'BLOB_UNKNOWN', `${this.name}: ${desc.digest} not found`);
  }

  async close(): Promise<void> {
    await this.lock;
  }
}

/** Keeps a copy of the bytes that pass (manifests only: bounded by MAX_MANIFEST_SIZE). */
class Collector extends Transform {
  private readonly chunks: Buffer[] = [];
  override _transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    this.chunks.push(chunk);
    cb(null, chunk);
  }
  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

