import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
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
import { commitFile, tempPathFor, writeFileAtomic } from '../../util/index.ts';
import { readAll } from '../content.ts';
import type { Target } from '../target.ts';
import { LayoutReader, REF_NAME } from './reader.ts';

const LAYOUT_FILE = JSON.stringify({ imageLayoutVersion: '1.0.0' });

/**
 * index.json update chains, one per directory and shared by every LayoutTarget of this process on
 * it (copying between two opens of one layout must not lose entries). Other processes are
 * covered only by the re-read before each change.
 */
const indexLocks = new Map<string, Promise<unknown>>();

/**
 * Blobs that belong to a layout without being in its directory: the tar a staged tar layout was
 * read from. The directory's own files win; a deleted lower blob is forgotten, not rewritten.
 */
export interface LowerBlobs {
  /** The stored size, or undefined when absent or forgotten. */
  size(digest: string): number | undefined;
  open(digest: string): Promise<Readable>;
  forget(digest: string): void;
}

export interface LayoutOpenOptions {
  /** Make an empty layout (oci-layout + empty index.json) when the directory has none. */
  create?: boolean;
  /** Name for messages (default `oci:<dir>`). */
  name?: string;
  lower?: LowerBlobs;
}

/** An OCI image layout in a directory, readable and writable. */
export class LayoutTarget extends LayoutReader implements Target {
  readonly name: string;
  readonly writable = true;
  readonly dir: string;
  private readonly lower: LowerBlobs | undefined;

  constructor(dir: string, name = `oci:${dir}`, lower?: LowerBlobs) {
    super();
    this.dir = dir;
    this.name = name;
    this.lower = lower;
  }

  /** Opens a layout directory; with `create`, makes an empty one when the directory has none. */
  static async open(dir: string, options: LayoutOpenOptions = {}): Promise<LayoutTarget> {
    const name = options.name ?? `oci:${dir}`;
    const hasLayout = await stat(join(dir, 'oci-layout')).then(
      (s) => s.isFile(),
      () => false
    );
    if (!hasLayout) {
      if (!options.create) throw new OciError('NOT_FOUND', `${name}: not an OCI image layout (no oci-layout file)`);
      await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
      const hasIndex = await stat(join(dir, 'index.json')).then(
        () => true,
        () => false
      );
      const empty = encodeManifest({ schemaVersion: 2, mediaType: MediaType.ImageIndex, manifests: [] });
      if (!hasIndex) await writeFileAtomic(join(dir, 'index.json'), empty);
      // oci-layout last: a crash part way leaves a directory that is not yet called a layout.
      await writeFileAtomic(join(dir, 'oci-layout'), LAYOUT_FILE);
    }
    return new LayoutTarget(dir, name, options.lower);
  }

  /** Where a blob lives in the directory; parseDigest keeps hostile digests from leaving `blobs/`. */
  blobPath(digest: string): string {
    const { algorithm, hex } = parseDigest(digest);
    return join(this.dir, 'blobs', algorithm, hex);
  }

  protected async readIndexBytes(): Promise<Buffer> {
    const path = join(this.dir, 'index.json');
    const st = await stat(path).catch(() => null);
    if (!st) throw new OciError('NOT_FOUND', `${this.name}: index.json missing`);
    if (st.size > MAX_MANIFEST_SIZE)
      throw new OciError('SIZE_EXCEEDED', `${this.name}: index.json is over ${MAX_MANIFEST_SIZE} bytes`);
    return Buffer.from(await readAll(createReadStream(path), MAX_MANIFEST_SIZE));
  }

  private async ownSize(digest: string): Promise<number | undefined> {
    return stat(this.blobPath(digest)).then(
      (s) => (s.isFile() ? s.size : undefined),
      () => undefined
    );
  }

  protected async openBlob(digest: string): Promise<Readable> {
    if ((await this.ownSize(digest)) !== undefined) return createReadStream(this.blobPath(digest));
    if (this.lower?.size(digest) !== undefined) return this.lower.open(digest);
    throw new OciError('BLOB_UNKNOWN', `${this.name}: ${digest} not found`);
  }

  async exists(desc: Descriptor): Promise<boolean> {
    const size = (await this.ownSize(desc.digest)) ?? this.lower?.size(desc.digest);
    return size === desc.size;
  }

  /** Serialises index.json read-modify-write within this process. */
  private withLock<T>(fn: () => Promise<T>): Promise<T> {
    const key = resolve(this.dir);
    const next = (indexLocks.get(key) ?? Promise.resolve()).then(fn, fn);
    const tail = next.then(
      () => {},
      () => {}
    );
    indexLocks.set(key, tail);
    // Drop the entry once idle so the map does not grow with every layout ever opened.
    void tail.then(() => {
      if (indexLocks.get(key) === tail) indexLocks.delete(key);
    });
    return next;
  }

  /** Rewrites index.json atomically; `change` returns null for "no change". */
  private async updateIndex(
    change: (index: ImageIndex) => Promise<ImageIndex | null> | ImageIndex | null
  ): Promise<void> {
    await this.withLock(async () => {
      const index = await this.readIndex(); // re-read: another process may have written it
      const next = await change(index);
      if (next) await writeFileAtomic(join(this.dir, 'index.json'), encodeManifest(next));
    });
  }

  /** Writes a blob through a temp file checked against `desc`; nothing partial is ever visible. */
  private async writeBlob(desc: Descriptor, content: Readable | Uint8Array): Promise<void> {
    const path = this.blobPath(desc.digest);
    await mkdir(dirname(path), { recursive: true });
    const tmp = tempPathFor(path);
    let out: ReturnType<typeof createWriteStream> | undefined;
    try {
      if (content instanceof Uint8Array) {
        verifyBytes(content, desc);
        await writeFile(tmp, content, { flag: 'wx' });
      } else {
        out = createWriteStream(tmp, { flags: 'wx' });
        await pipeline(content, new VerifyingStream(desc), out);
      }
    } catch (err) {
      // The file is opened asynchronously: wait until the stream has closed, or the unlink can
      // run before the open and the empty temp file would stay behind.
      if (out && !out.closed) await new Promise<void>((r) => out!.once('close', () => r()));
      await unlink(tmp).catch(() => {});
      throw err;
    }
    await commitFile(tmp, path);
  }

  async push(desc: Descriptor, content: Readable | Uint8Array): Promise<void> {
    if (!isManifestMediaType(desc.mediaType)) {
      if (await this.exists(desc)) {
        if (content instanceof Readable) content.destroy();
        return;
      }
      await this.writeBlob(desc, content);
      return;
    }
    // Manifests are small (bounded) and must parse before they are stored.
    if (desc.size > MAX_MANIFEST_SIZE) {
      if (content instanceof Readable) content.destroy();
      throw new OciError(
        'SIZE_EXCEEDED',
        `${this.name}: manifest ${desc.digest} is ${desc.size} bytes, over the ${MAX_MANIFEST_SIZE}-byte limit`
      );
    }
    const bytes = content instanceof Uint8Array ? content : await readAll(content, desc.size);
    verifyBytes(bytes, desc);
    const m = parseManifest(bytes, desc.mediaType);
    if (!(await this.exists(desc))) await this.writeBlob(desc, bytes);
    // Referrers (signatures, SBOMs) are listed in index.json untagged, as notation and oras do,
    // so that a reader scanning index.json finds them.
    if (m.subject) {
      const entry: Descriptor = { mediaType: desc.mediaType, digest: desc.digest, size: desc.size };
      if (m.artifactType) entry.artifactType = m.artifactType;
      await this.updateIndex((index) =>
        index.manifests.some((e) => e.digest === desc.digest)
          ? null
          : { ...index, manifests: [...index.manifests, entry] }
      );
    }
  }

  async tag(desc: Descriptor, tag: string): Promise<void> {
    validateTag(tag);
    await this.setRefName(desc, tag);
  }

  /** Points a ref name at a manifest; unlike tag(), accepts any non-empty ref name (Flatpak refs). */
  async setRefName(desc: Descriptor, ref: string): Promise<void> {
    if (!ref || ref.length > 1024 || /[\0\n]/.test(ref))
      throw new OciError('TAG_INVALID', `invalid ref name ${JSON.stringify(ref.slice(0, 100))}`);
    if (!isManifestMediaType(desc.mediaType))
      throw new OciError(
        'MANIFEST_INVALID',
        `${this.name}: cannot tag ${desc.digest}: ${desc.mediaType} is not a manifest type`
      );
    if (!(await this.exists(desc)))
      throw new OciError('MANIFEST_UNKNOWN', `${this.name}: cannot tag ${desc.digest}: not in the layout`);
    // Only a manifest that parses as one gets a name (a config blob under a manifest type would not).
    if (desc.size > MAX_MANIFEST_SIZE)
      throw new OciError(
        'SIZE_EXCEEDED',
        `${this.name}: cannot tag ${desc.digest}: over the ${MAX_MANIFEST_SIZE}-byte manifest limit`
      );
    parseManifest(await readAll(await this.fetch(desc), MAX_MANIFEST_SIZE), desc.mediaType);
    await this.updateIndex(async (index) => {
      const manifests = index.manifests.filter((e) => e.annotations?.[REF_NAME] !== ref);
      // A referrer that loses its only entry to the new tag stays listed, untagged, or it would vanish from referrers().
      for (const old of index.manifests) {
        if (
          old.annotations?.[REF_NAME] !== ref ||
          old.digest === desc.digest ||
          manifests.some((e) => e.digest === old.digest)
        )
          continue;
        if (await this.isReferrer(old))
          manifests.push({ mediaType: old.mediaType, digest: old.digest, size: old.size });
      }
      manifests.push({
        mediaType: desc.mediaType,
        digest: desc.digest,
        size: desc.size,
        annotations: { [REF_NAME]: ref },
      });
      return { ...index, manifests };
    });
  }

  private async isReferrer(d: Descriptor): Promise<boolean> {
    if (!isManifestMediaType(d.mediaType) || d.size > MAX_MANIFEST_SIZE) return false;
    try {
      return parseManifest(await readAll(await this.fetch(d), MAX_MANIFEST_SIZE), d.mediaType).subject !== undefined;
    } catch {
      return false; // missing or broken: nothing to keep
    }
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

  /** Removes every index.json entry of the digest, then the blob. */
  async delete(desc: Descriptor): Promise<void> {
    let found = false;
    await this.updateIndex((index) => {
      const manifests = index.manifests.filter((e) => e.digest !== desc.digest);
      found = manifests.length !== index.manifests.length;
      return found ? { ...index, manifests } : null;
    });
    this.forgetManifest(desc.digest);
    try {
      await unlink(this.blobPath(desc.digest));
      found = true;
    } catch {
      // not in the directory
    }
    if (this.lower?.size(desc.digest) !== undefined) {
      this.lower.forget(desc.digest);
      found = true;
    }
    if (!found)
      throw new OciError(
        isManifestMediaType(desc.mediaType) ? 'MANIFEST_UNKNOWN' : 'BLOB_UNKNOWN',
        `${this.name}: ${desc.digest} not found`
      );
  }

  /** Waits for this process's pending index.json updates of the directory. */
  async close(): Promise<void> {
    await indexLocks.get(resolve(this.dir));
  }
}
