import { createHash, randomUUID, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream, type ReadStream } from 'node:fs';
import { mkdir, readdir, readFile, rm, stat, truncate, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { OciError, parseDigest, referrerDescriptor, type Descriptor, type Manifest } from '../oci/index.ts';
import { commitFile, fsyncDir, isTempName, tempPathFor, writeFileAtomic } from '../util/index.ts';

/**
 * The registry's filesystem store. Content-addressed blobs (manifests included) live once in
 * `blobs/<alg>/<hex>`; each repository only holds links:
 *
 *   repositories/<name>/_layers/<alg>-<hex>                 a blob visible in this repository
 *   repositories/<name>/_manifests/revisions/<alg>-<hex>    a manifest (file holds its media type)
 *   repositories/<name>/_manifests/tags/<tag>               the digest the tag points at
 *   repositories/<name>/_referrers/<alg>-<hex>/<alg>-<hex>  referrer descriptor JSON, by subject
 *   uploads/<uuid>/{data,state.json}                        upload sessions
 *
 * Repository name components can never start with '_' (distribution-spec grammar), so the
 * link directories cannot collide with a nested repository. Every object is written to a temp
 * file, fsynced and renamed, and a link is written only after what it points to is durable.
 */
export class RegistryStorage {
  readonly root: string;
  private readonly hashes = new Map<string, { hash: Hash; offset: number }>();
  /**
   * One lock per upload session: chunks, the final PUT and a cancel run one after another, so a
   * chunk still streaming can never write into a file the final PUT has committed as a blob, and
   * the digest is computed only once every writer has closed.
   */
  private readonly uploadLocks = new Map<string, Promise<unknown>>();

  private async withUploadLock<T>(uuid: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.uploadLocks.get(uuid) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.uploadLocks.set(uuid, tail);
    try {
      return await run;
    } finally {
      if (this.uploadLocks.get(uuid) === tail) this.uploadLocks.delete(uuid);
    }
  }

  constructor(root: string) {
    this.root = root;
  }

  /** Creates the layout and removes temp files a crash may have left behind. Returns how many. */
  async init(): Promise<number> {
    await mkdir(join(this.root, 'blobs'), { recursive: true });
    await mkdir(join(this.root, 'repositories'), { recursive: true });
    await mkdir(join(this.root, 'uploads'), { recursive: true });
    return removeTempFiles(this.root);
  }

  blobPath(digest: string): string {
    const { algorithm, hex } = parseDigest(digest);
    return join(this.root, 'blobs', algorithm, hex);
  }

  private repoDir(repo: string): string {
    return join(this.root, 'repositories', ...repo.split('/'));
  }

  private linkName(digest: string): string {
    const { algorithm, hex } = parseDigest(digest);
    return `${algorithm}-${hex}`;
  }

  async repoExists(repo: string): Promise<boolean> {
    return exists(join(this.repoDir(repo), '_layers')).then((a) => a || exists(join(this.repoDir(repo), '_manifests')));
  }

  /** Size of a blob visible in `repo`, or null. */
  async blobSize(repo: string, digest: string): Promise<number | null> {
    if (!(await exists(join(this.repoDir(repo), '_layers', this.linkName(digest))))) return null;
    try {
      return (await stat(this.blobPath(digest))).size;
    } catch {
      return null;
    }
  }

  openBlob(digest: string, range?: { start: number; end: number }): ReadStream {
    // 1 MiB reads: far fewer syscalls and event-loop turns than the 64 KiB default on large blobs,
    // while memory stays bounded by backpressure.
    return createReadStream(this.blobPath(digest), {
      highWaterMark: 1024 * 1024,
      ...(range ? { start: range.start, end: range.end } : {}),
    });
  }

  async linkBlob(repo: string, digest: string): Promise<void> {
    await writeFileAtomic(join(this.repoDir(repo), '_layers', this.linkName(digest)), digest);
  }

  async unlinkBlob(repo: string, digest: string): Promise<boolean> {
    return removeIfExists(join(this.repoDir(repo), '_layers', this.linkName(digest)));
  }

  /** Links a blob that exists in the global store (cross-repository mount). */
  async mountBlob(repo: string, from: string, digest: string): Promise<boolean> {
    if ((await this.blobSize(from, digest)) === null) return false;
    await this.linkBlob(repo, digest);
    return true;
  }

  // ---- uploads -------------------------------------------------------------------------------

  async createUpload(repo: string): Promise<string> {
    const uuid = randomUUID();
    const dir = join(this.root, 'uploads', uuid);
    await mkdir(dir, { recursive: true });
    await writeFileAtomic(join(dir, 'data'), new Uint8Array(0));
    await writeFileAtomic(join(dir, 'state.json'), JSON.stringify({ repo, created: new Date().toISOString() }));
    this.hashes.set(uuid, { hash: createHash('sha256'), offset: 0 });
    return uuid;
  }

  /** The upload's repository and current size, or null when unknown. */
  async uploadState(uuid: string): Promise<{ repo: string; offset: number } | null> {
    if (!/^[0-9a-f-]{36}$/.test(uuid)) return null;
    try {
      const state = JSON.parse(await readFile(join(this.root, 'uploads', uuid, 'state.json'), 'utf8')) as {
        repo: string;
      };
      const { size } = await stat(join(this.root, 'uploads', uuid, 'data'));
      return { repo: state.repo, offset: size };
    } catch {
      return null;
    }
  }

  /**
   * Appends a request body to an upload, hashing as it goes. On any failure (client gone,
   * size cap) the data file is cut back to where it was: a bad chunk leaves no trace.
   */
  async appendUpload(uuid: string, body: Readable, maxTotal: number): Promise<number> {
    return this.withUploadLock(uuid, () => this.appendLocked(uuid, body, maxTotal));
  }

  private async appendLocked(uuid: string, body: Readable, maxTotal: number): Promise<number> {
    const path = join(this.root, 'uploads', uuid, 'data');
    // The session may have been completed or cancelled while this chunk waited for the lock.
    const before = await stat(path).then(
      (s) => s.size,
      () => {
        throw new OciError('BLOB_UPLOAD_UNKNOWN', `upload ${uuid} is finished or gone`);
      }
    );
    let h = this.hashes.get(uuid);
    if (h && h.offset !== before) h = undefined;
    const hash = h ? h.hash.copy() : null;
    const counter = new CountingHash(hash, maxTotal - before);
    try {
      await pipeline(body, counter, createWriteStream(path, { flags: 'a' }));
    } catch (err) {
      await truncate(path, before);
      throw err;
    }
    const after = before + counter.bytes;
    if (hash) this.hashes.set(uuid, { hash, offset: after });
    else this.hashes.delete(uuid);
    return after;
  }

  /**
   * Completes an upload: checks the digest of everything received, then moves the data into the
   * blob store and links it. A mismatch discards the upload.
   */
  async finishUpload(uuid: string, repo: string, digest: string): Promise<void> {
    return this.withUploadLock(uuid, () => this.finishLocked(uuid, repo, digest));
  }

  private async finishLocked(uuid: string, repo: string, digest: string): Promise<void> {
    const dir = join(this.root, 'uploads', uuid);
    if (!(await exists(join(dir, 'data'))))
      throw new OciError('BLOB_UPLOAD_UNKNOWN', `upload ${uuid} is finished or gone`);
    const data = join(dir, 'data');
    const { algorithm } = parseDigest(digest);
    const { size } = await stat(data);
    const h = this.hashes.get(uuid);
    let actual: string;
    if (h && h.offset === size && algorithm === 'sha256') actual = `sha256:${h.hash.digest('hex')}`;
    else actual = await hashFile(data, algorithm);
    this.hashes.delete(uuid);
    if (actual !== digest) {
      await this.cancelUpload(uuid);
      throw new OciError('DIGEST_INVALID', `uploaded content has digest ${actual}, not ${digest}`);
    }
    const target = this.blobPath(digest);
    if (await exists(target)) {
      await rm(dir, { recursive: true, force: true });
    } else {
      await commitFile(data, target);
      await rm(dir, { recursive: true, force: true });
    }
    await this.linkBlob(repo, digest);
  }

  async cancelUpload(uuid: string): Promise<void> {
    this.hashes.delete(uuid);
    await rm(join(this.root, 'uploads', uuid), { recursive: true, force: true });
  }

  /** Monolithic upload in one request: streams to a temp file, verifies, commits. */
  async putBlob(repo: string, digest: string, body: Readable, maxSize: number): Promise<void> {
    const target = this.blobPath(digest);
    await mkdir(join(target, '..'), { recursive: true });
    const tmp = tempPathFor(target);
    const { algorithm } = parseDigest(digest);
    const counter = new CountingHash(createHash(algorithm), maxSize);
    const out = createWriteStream(tmp, { flags: 'wx' });
    try {
      await pipeline(body, counter, out);
      const actual = `${algorithm}:${counter.digest()}`;
      if (actual !== digest)
        throw new OciError('DIGEST_INVALID', `uploaded content has digest ${actual}, not ${digest}`);
      await commitFile(tmp, target);
    } catch (err) {
      // The temp file is opened asynchronously: unlink only once the stream has closed.
      if (!out.closed) await new Promise<void>((r) => out.once('close', () => r()));
      await unlink(tmp).catch(() => {});
      throw err;
    }
    await this.linkBlob(repo, digest);
  }

  // ---- manifests -----------------------------------------------------------------------------

  /** Stores a manifest (already validated by the caller) and, when given, points a tag at it. */
  async putManifest(
    repo: string,
    bytes: Uint8Array,
    mediaType: string,
    digest: string,
    manifest: Manifest,
    tag?: string
  ): Promise<void> {
    const target = this.blobPath(digest);
    if (!(await exists(target))) await writeFileAtomic(target, bytes);
    const repoDir = this.repoDir(repo);
    await writeFileAtomic(join(repoDir, '_manifests', 'revisions', this.linkName(digest)), mediaType);
    if (manifest.subject) {
      const desc = referrerDescriptor({ mediaType, digest, size: bytes.length }, manifest);
      await writeFileAtomic(
        join(repoDir, '_referrers', this.linkName(manifest.subject.digest), this.linkName(digest)),
        JSON.stringify(desc)
      );
    }
    if (tag !== undefined) await writeFileAtomic(join(repoDir, '_manifests', 'tags', tag), digest);
  }

  /** Media type and size of a manifest in `repo`, or null. */
  async manifestInfo(repo: string, digest: string): Promise<{ mediaType: string; size: number } | null> {
    try {
      const mediaType = (
        await readFile(join(this.repoDir(repo), '_manifests', 'revisions', this.linkName(digest)), 'utf8')
      ).trim();
      const { size } = await stat(this.blobPath(digest));
      return { mediaType, size };
    } catch {
      return null;
    }
  }

  async tagDigest(repo: string, tag: string): Promise<string | null> {
    try {
      const d = (await readFile(join(this.repoDir(repo), '_manifests', 'tags', tag), 'utf8')).trim();
      parseDigest(d);
      return d;
    } catch {
      return null;
    }
  }

  async readManifest(digest: string): Promise<Buffer> {
    return readFile(this.blobPath(digest));
  }

  /** Removes a manifest from `repo`: its revision link, the tags on it and its referrer entry. */
  async deleteManifest(repo: string, digest: string, subjectDigest?: string): Promise<boolean> {
    const repoDir = this.repoDir(repo);
    const removed = await removeIfExists(join(repoDir, '_manifests', 'revisions', this.linkName(digest)));
    if (!removed) return false;
    for (const tag of (await this.listTags(repo)) ?? []) {
      if ((await this.tagDigest(repo, tag)) === digest) await removeIfExists(join(repoDir, '_manifests', 'tags', tag));
    }
    if (subjectDigest)
      await removeIfExists(join(repoDir, '_referrers', this.linkName(subjectDigest), this.linkName(digest)));
    return true;
  }

  async deleteTag(repo: string, tag: string): Promise<boolean> {
    return removeIfExists(join(this.repoDir(repo), '_manifests', 'tags', tag));
  }

  /** Sorted tags of a repository, or null when the repository does not exist. */
  async listTags(repo: string): Promise<string[] | null> {
    if (!(await this.repoExists(repo))) return null;
    try {
      return (await readdir(join(this.repoDir(repo), '_manifests', 'tags'))).filter((t) => !isTempName(t)).sort();
    } catch {
      return [];
    }
  }

  async referrers(repo: string, subjectDigest: string): Promise<Descriptor[]> {
    const dir = join(this.repoDir(repo), '_referrers', this.linkName(subjectDigest));
    let names: string[];
    try {
      names = (await readdir(dir)).filter((n) => !isTempName(n)).sort();
    } catch {
      return [];
    }
    const out: Descriptor[] = [];
    for (const n of names) {
      try {
        out.push(JSON.parse(await readFile(join(dir, n), 'utf8')) as Descriptor);
      } catch {
        // an unreadable entry is reported by fsck; the listing stays usable
      }
    }
    return out;
  }

  /** Every repository name, sorted. */
  async listRepositories(): Promise<string[]> {
    const out: string[] = [];
    const walk = async (dir: string, prefix: string[]): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch {
        return;
      }
      if (entries.some((e) => e.name === '_manifests' || e.name === '_layers')) out.push(prefix.join('/'));
      for (const e of entries)
        if (e.isDirectory() && !e.name.startsWith('_') && !e.name.startsWith('.'))
          await walk(join(dir, e.name), [...prefix, e.name]);
    };
    await walk(join(this.root, 'repositories'), []);
    return out.sort();
  }
}

/** Counts bytes, hashes them (when given a hash) and stops past a cap. */
class CountingHash extends Transform {
  bytes = 0;
  constructor(
    private readonly hash: Hash | null,
    private readonly cap: number
  ) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.cap) {
      cb(new OciError('SIZE_INVALID', `upload exceeds the size limit`));
      return;
    }
    this.hash?.update(chunk);
    cb(null, chunk);
  }
  digest(): string {
    if (!this.hash) throw new OciError('BLOB_UPLOAD_INVALID', 'the upload has no running digest');
    return this.hash.digest('hex');
  }
}

async function hashFile(path: string, algorithm: string): Promise<string> {
  const h = createHash(algorithm);
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return `${algorithm}:${h.digest('hex')}`;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

async function removeIfExists(path: string): Promise<boolean> {
  try {
    await unlink(path);
    return true;
  } catch {
    return false;
  }
}

/** Deletes temp files (`.tmp-*`) anywhere under root (left by a crash mid-write). */
export async function removeTempFiles(root: string): Promise<number> {
  let n = 0;
  const walk = async (dir: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    let changed = false;
    for (const e of entries) {
      const p = join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else if (isTempName(e.name)) {
        await unlink(p).catch(() => {});
        n++;
        changed = true;
      }
    }
    if (changed) await fsyncDir(dir).catch(() => {});
  };
  await walk(root);
  return n;
}
