import { createHash, randomUUID, type Hash } from 'node:crypto';
import {
  closeSync,
  createReadStream,
  fstatSync,
  openSync,
  readdirSync,
  readSync,
  statSync,
  type ReadStream,
} from 'node:fs';
import {
  lstat,
  mkdir,
  open,
  readFile,
  readdir,
  rm,
  rmdir,
  stat,
  truncate,
  unlink,
  utimes,
  type FileHandle,
} from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { IncomingMessage } from 'node:http';
import { Writable, type Readable } from 'node:stream';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { pipeline } from 'node:stream/promises';
import {
  MediaType,
  OciError,
  digestOf,
  isImageIndex,
  parseDigest,
  parseManifest,
  referrerDescriptor,
  type Descriptor,
  type Manifest,
} from '../oci/index.ts';
import { commitFile, fsyncDir, isTempName, tempPathFor, writeFileAtomic } from '../util/index.ts';
import { RegistryError } from './errors.ts';

/** Upload sessions older than this are unknown to the server and swept (`signet serve`, gc). */
export const DEFAULT_UPLOAD_TTL_MS = 24 * 3600_000;

/**
 * Written at the store root once every repository has its reverse links (see below): a store
 * without it was written by an older Signet, and `init()` builds the links before serving.
 */
export const REVERSE_LINKS_MARKER = '.reverse-links-v1';

/** The two kinds of reverse link under `repositories/<name>/_manifests/`. */
export const REVERSE_LINK_KINDS = ['parents', 'users'] as const;

const EMPTY_CONFIG_DIGEST = 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a';

/**
 * The registry's filesystem store. Content-addressed blobs (manifests included) live once in
 * `blobs/<alg>/<hex>`; each repository only holds links:
 *
 *   repositories/<name>/_layers/<alg>-<hex>                 a blob visible in this repository
 *   repositories/<name>/_manifests/revisions/<alg>-<hex>    a manifest (file holds its media type)
 *   repositories/<name>/_manifests/tags/<tag>               the digest the tag points at
 *   repositories/<name>/_referrers/<alg>-<hex>/<alg>-<hex>  referrer descriptor JSON, by subject
 *   repositories/<name>/_manifests/parents/<child>/<index>  reverse link: `index` lists manifest `child`
 *   repositories/<name>/_manifests/users/<blob>/<manifest>  reverse link: `manifest` uses `blob` (config, layer)
 *   uploads/<uuid>/{data,state.json}                        upload sessions
 *
 * Repository name components can never start with '_' (distribution-spec grammar), so the
 * link directories cannot collide with a nested repository. Every object is written to a temp
 * file, fsynced and renamed, and a link is written only after what it points to is durable.
 *
 * Reverse links let a delete be refused without scanning the repository: a manifest some index
 * lists, or a blob some manifest uses, stays. They are guards, so the order is the other way
 * round: a manifest's reverse links are durable before its revision link, and are removed after
 * it. A crash in between leaves a link that names a manifest the repository does not have;
 * readers ignore such a link (only links whose manifest has a revision count), `init()` removes
 * them at the next start, and `signet serve gc` removes them once older than its grace period.
 *
 * Stores written before reverse links existed have no {@link REVERSE_LINKS_MARKER}: `init()`
 * builds every repository's links from its manifests once (a scan, like the temp-file sweep it
 * already does) before the server answers, then writes the marker. fsck reports missing links
 * only in stores that have the marker; gc does not depend on them at all.
 *
 * Concurrency inside the server: manifest PUTs of a repository share a lock, deletes of
 * manifests and blobs take it alone, so a delete's "nothing lists it" check and its removal
 * cannot interleave with a PUT that starts listing it (the PUT re-checks, under the lock, that
 * what it references is still there). Blobs are touched (mtime) before anything new links
 * them, which is what makes `signet serve gc` safe beside a running server (see gc.ts).
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
  /** Per repository: manifest PUTs share it, deletes take it alone (see the class comment). */
  private readonly repoLocks = new Map<string, RwLock>();
  /** Upload sessions older than this answer BLOB_UPLOAD_UNKNOWN (set by `startMaintenance`). */
  uploadTtlMs = DEFAULT_UPLOAD_TTL_MS;

  private async withRepoLock<T>(repo: string, exclusive: boolean, fn: () => Promise<T>): Promise<T> {
    let lock = this.repoLocks.get(repo);
    if (!lock) this.repoLocks.set(repo, (lock = new RwLock()));
    await lock.acquire(exclusive);
    try {
      return await fn();
    } finally {
      lock.release(exclusive);
      if (lock.idle && this.repoLocks.get(repo) === lock) this.repoLocks.delete(repo);
    }
  }

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

  /**
   * Creates the layout and removes temp files a crash may have left behind (returns how many),
   * then brings the reverse links up to date: built once for a store written before them,
   * otherwise only the leftovers of an interrupted write removed. Run before serving, never
   * beside a running server (it removes every temp file, young or not).
   */
  async init(): Promise<number> {
    await mkdir(join(this.root, 'blobs'), { recursive: true });
    await mkdir(join(this.root, 'repositories'), { recursive: true });
    await mkdir(join(this.root, 'uploads'), { recursive: true });
    const removed = (await removeTempFiles(this.root)).count;
    const marker = join(this.root, REVERSE_LINKS_MARKER);
    const migrated = await exists(marker);
    for (const repo of await this.listRepositories()) {
      if (!migrated) await this.buildReverseLinks(repo);
      await this.removeStaleReverseLinks(repo);
    }
    if (!migrated) await writeFileAtomic(marker, 'reverse links: repositories/*/_manifests/{parents,users}\n');
    return removed;
  }

  /** Writes the reverse links of every manifest of `repo` that lacks them (stores of older versions). */
  private async buildReverseLinks(repo: string): Promise<void> {
    for (const d of await this.revisions(repo)) {
      const m = await this.loadManifest(repo, d);
      if (!m) continue;
      for (const link of this.reverseLinkPaths(repo, d, m)) if (!(await exists(link))) await writeFileAtomic(link, d);
    }
  }

  /** Removes reverse links whose manifest has no revision (a crash between two writes). */
  private async removeStaleReverseLinks(repo: string): Promise<void> {
    const revisions = new Set(await this.revisions(repo));
    for (const kind of REVERSE_LINK_KINDS) {
      const base = join(this.repoDir(repo), '_manifests', kind);
      for (const child of await listNames(base)) {
        const dir = join(base, child);
        for (const name of await listNames(dir))
          if (!revisions.has(fromLinkName(name))) await removeIfExists(join(dir, name));
        await rmdir(dir).catch(() => {});
      }
    }
  }

  /** Digests of the manifests in `repo` (its revision links). */
  private async revisions(repo: string): Promise<string[]> {
    return (await listNames(join(this.repoDir(repo), '_manifests', 'revisions'))).map(fromLinkName);
  }

  private async hasRevision(repo: string, digest: string): Promise<boolean> {
    return exists(join(this.repoDir(repo), '_manifests', 'revisions', this.linkName(digest)));
  }

  /** A manifest of `repo`, parsed; null when it is not there or does not parse. */
  private async loadManifest(repo: string, digest: string): Promise<Manifest | null> {
    const info = await this.manifestInfo(repo, digest);
    if (!info) return null;
    try {
      return parseManifest(await this.readManifest(digest), info.mediaType);
    } catch {
      return null;
    }
  }

  /** The reverse links a manifest owns: one per manifest an index lists, one per blob an image uses. */
  private reverseLinkPaths(repo: string, digest: string, m: Manifest): string[] {
    const base = join(this.repoDir(repo), '_manifests');
    const own = this.linkName(digest);
    const out = new Set<string>();
    if (isImageIndex(m)) {
      for (const c of m.manifests) out.add(join(base, 'parents', this.linkName(c.digest), own));
    } else {
      for (const b of [m.config, ...m.layers])
        if (!b.urls?.length) out.add(join(base, 'users', this.linkName(b.digest), own));
    }
    return [...out];
  }

  /** The manifests named in a reverse-link directory that the repository still has, sorted. */
  private async linkedManifests(repo: string, dir: string): Promise<string[]> {
    const out: string[] = [];
    for (const name of await listNames(dir)) {
      const d = fromLinkName(name);
      if (await this.hasRevision(repo, d)) out.push(d);
    }
    return out.sort();
  }

  /**
   * Digests of the index manifests in `repo` that list `digest` in their `manifests`, sorted.
   * Answered from the reverse links, without reading the indexes.
   */
  async indexesListing(repo: string, digest: string): Promise<string[]> {
    return this.linkedManifests(repo, join(this.repoDir(repo), '_manifests', 'parents', this.linkName(digest)));
  }

  /** Digests of the image manifests in `repo` that use blob `digest` as config or layer, sorted. */
  async blobUsers(repo: string, digest: string): Promise<string[]> {
    return this.linkedManifests(repo, join(this.repoDir(repo), '_manifests', 'users', this.linkName(digest)));
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
    // Two stats: synchronous (see readSmall) on the path every pull takes.
    if (!statSync(join(this.repoDir(repo), '_layers', this.linkName(digest)), { throwIfNoEntry: false })) return null;
    return statSync(this.blobPath(digest), { throwIfNoEntry: false })?.size ?? null;
  }

  /**
   * A small blob's bytes in one read (a signature envelope, a config): no stream, no thread-pool
   * round trips. Null when it is larger than `max` or gone; the caller streams it then.
   */
  readSmallBlob(digest: string, max: number): Buffer | null {
    return readSmall(this.blobPath(digest), max);
  }

  /**
   * Writes a blob (or the inclusive byte `range` of it) to `out` without ending it: 1 MiB reads
   * aligned to 1 MiB offsets into two buffers taken from a small pool, each written as it is read
   * (no copy, no re-hashing: content was verified when it was written) and reused once the
   * response has flushed it, so a pull of any size holds two buffers and allocates nothing per
   * chunk. A response closed early rejects with ERR_STREAM_PREMATURE_CLOSE (its buffers are then
   * dropped, not pooled: the socket may still hold them).
   */
  async sendBlob(digest: string, out: Writable, range?: { start: number; end: number }): Promise<void> {
    const fh = await open(this.blobPath(digest), 'r');
    const bufs = [takeChunkBuffer(), takeChunkBuffer()];
    let clean = false;
    try {
      const end = range ? range.end + 1 : (await fh.stat()).size;
      let pos = range?.start ?? 0;
      const flushed: Array<Promise<void> | undefined> = [undefined, undefined];
      let closedEarly: (() => void) | undefined;
      const closed = new Promise<never>((_, reject) => {
        closedEarly = () => reject(prematureClose());
        out.once('close', closedEarly);
      });
      closed.catch(() => {});
      try {
        for (let slot = 0; pos < end; slot ^= 1) {
          if (flushed[slot]) await Promise.race([flushed[slot], closed]);
          const buf = bufs[slot]!;
          const { bytesRead } = await fh.read(buf, 0, Math.min(end - pos, CHUNK - (pos % CHUNK)), pos);
          if (bytesRead === 0) throw new OciError('BLOB_UNKNOWN', `blob ${digest} ended before its size`);
          flushed[slot] = writeFlushed(out, buf.subarray(0, bytesRead));
          flushed[slot]!.catch(() => {});
          pos += bytesRead;
        }
        await Promise.race([Promise.all(flushed), closed]);
        clean = true;
      } finally {
        out.off('close', closedEarly!);
      }
    } finally {
      await fh.close();
      if (clean) for (const b of bufs) returnChunkBuffer(b);
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

  /** Removes a blob from `repo` without any check (see {@link unlinkBlobChecked}). */
  async unlinkBlob(repo: string, digest: string): Promise<boolean> {
    return removeIfExists(join(this.repoDir(repo), '_layers', this.linkName(digest)));
  }

  /**
   * DELETE of a blob: false when `repo` does not have it; refused (409 DENIED) while a manifest
   * of the repository uses it as config or layer.
   */
  async unlinkBlobChecked(repo: string, digest: string): Promise<boolean> {
    return this.withRepoLock(repo, true, async () => {
      if (!(await exists(join(this.repoDir(repo), '_layers', this.linkName(digest))))) return false;
      const users = await this.blobUsers(repo, digest);
      if (users.length) {
        throw new RegistryError(
          'DENIED',
          `blob ${digest} is used by manifest ${users[0]} in repository ${repo}: delete the manifest first`,
          409,
          {},
          { digest, manifests: users }
        );
      }
      return this.unlinkBlob(repo, digest);
    });
  }

  /** Links a blob that exists in the global store (cross-repository mount). */
  async mountBlob(repo: string, from: string, digest: string): Promise<boolean> {
    if ((await this.blobSize(from, digest)) === null) return false;
    // Touched before it is linked (gc keeps young blobs); gone meanwhile means "not mountable".
    if (!(await touch(this.blobPath(digest)))) return false;
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

  /** The upload's repository and current size, or null when unknown or past its TTL. */
  async uploadState(uuid: string): Promise<{ repo: string; offset: number } | null> {
    if (!/^[0-9a-f-]{36}$/.test(uuid)) return null;
    try {
      const state = JSON.parse(await readFile(join(this.root, 'uploads', uuid, 'state.json'), 'utf8')) as {
        repo: string;
      };
      const created = await uploadCreatedAt(join(this.root, 'uploads', uuid));
      if (created === null || Date.now() - created > this.uploadTtlMs) return null;
      const { size } = await stat(join(this.root, 'uploads', uuid, 'data'));
      return { repo: state.repo, offset: size };
    } catch {
      return null;
    }
  }

  /**
   * Removes upload sessions created more than `ttlMs` ago, each under its session lock (a chunk
   * being written finishes first). Counts what it removed.
   */
  async expireUploads(ttlMs = this.uploadTtlMs): Promise<{ count: number; bytes: number }> {
    const out = { count: 0, bytes: 0 };
    const base = join(this.root, 'uploads');
    for (const uuid of await listNames(base)) {
      const dir = join(base, uuid);
      const created = await uploadCreatedAt(dir);
      if (created === null || Date.now() - created <= ttlMs) continue;
      await this.withUploadLock(uuid, async () => {
        out.bytes += await dirSize(dir);
        this.hashes.delete(uuid);
        await rm(dir, { recursive: true, force: true });
        out.count++;
      });
    }
    return out;
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
    const fh = await open(path, 'a');
    const sink = new BlobSink(fh, hash, maxTotal - before, body instanceof IncomingMessage);
    try {
      await pipeline(body, sink);
    } catch (err) {
      await fh.close().catch(() => {});
      await truncate(path, before);
      throw err;
    }
    await fh.close();
    const after = before + sink.bytes;
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
    // The blob is young when it is linked, whether it was here already (touched: gc may be about
    // to judge it unreferenced) or is committed now (data written long ago keeps its old mtime).
    if (!(await touch(target))) {
      await touch(data);
      await commitFile(data, target);
    }
    await rm(dir, { recursive: true, force: true });
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
    const fh = await open(tmp, 'wx');
    const sink = new BlobSink(fh, createHash(algorithm), maxSize, body instanceof IncomingMessage);
    let closed = false;
    try {
      try {
        await pipeline(body, sink);
      } finally {
        closed = true;
        await fh.close();
      }
      const actual = `${algorithm}:${sink.digest()}`;
      if (actual !== digest)
        throw new OciError('DIGEST_INVALID', `uploaded content has digest ${actual}, not ${digest}`);
      await commitFile(tmp, target);
    } catch (err) {
      if (!closed) await fh.close().catch(() => {});
      await unlink(tmp).catch(() => {});
      throw err;
    }
    await this.linkBlob(repo, digest);
  }

  // ---- manifests -----------------------------------------------------------------------------

  /**
   * Stores a manifest (already validated by the caller) and, when given, points a tag at it.
   * Under the repository's shared lock it checks again that what the manifest references is
   * here (a delete may have run since the caller looked), so no PUT can list what a delete removes.
   */
  async putManifest(
    repo: string,
    bytes: Uint8Array,
    mediaType: string,
    digest: string,
    manifest: Manifest,
    tag?: string
  ): Promise<void> {
    await this.withRepoLock(repo, false, async () => {
      await this.checkReferenced(repo, manifest);
      await this.storeManifest(repo, bytes, mediaType, digest, manifest, tag);
    });
  }

  private async checkReferenced(repo: string, manifest: Manifest): Promise<void> {
    if (isImageIndex(manifest)) {
      for (const d of manifest.manifests) {
        if (!(await this.hasRevision(repo, d.digest)))
          throw new RegistryError(
            'MANIFEST_UNKNOWN',
            `index references manifest ${d.digest}, which is not in repository ${repo}`,
            400,
            {},
            { digest: d.digest }
          );
      }
      return;
    }
    for (const d of [manifest.config, ...manifest.layers]) {
      if (d.urls?.length) continue;
      // The empty JSON config is so common that clients may omit pushing it; it is known content.
      if (d.digest === EMPTY_CONFIG_DIGEST && d.size === 2 && d.mediaType === MediaType.Empty) continue;
      const size = await this.blobSize(repo, d.digest);
      if (size === null)
        throw new RegistryError(
          'MANIFEST_BLOB_UNKNOWN',
          `manifest references blob ${d.digest}, which is not in repository ${repo}`,
          400,
          {},
          { digest: d.digest }
        );
      if (size !== d.size)
        throw new RegistryError(
          'MANIFEST_INVALID',
          `manifest says blob ${d.digest} has ${d.size} bytes; it has ${size}`
        );
    }
  }

  /** putManifest without lock or checks (callers hold the repository lock). */
  private async storeManifest(
    repo: string,
    bytes: Uint8Array,
    mediaType: string,
    digest: string,
    manifest: Manifest,
    tag?: string
  ): Promise<void> {
    const target = this.blobPath(digest);
    // A manifest already in the store is touched before it is linked, so gc sees it young.
    if (!(await touch(target))) await writeFileAtomic(target, bytes);
    const repoDir = this.repoDir(repo);
    // Reverse links first: they must exist whenever the revision does (see the class comment).
    await Promise.all(this.reverseLinkPaths(repo, digest, manifest).map((p) => writeFileAtomic(p, digest)));
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
    const link = readSmall(join(this.repoDir(repo), '_manifests', 'revisions', this.linkName(digest)), SMALL_READ);
    const blob = link && statSync(this.blobPath(digest), { throwIfNoEntry: false });
    return blob ? { mediaType: link.toString('utf8').trim(), size: blob.size } : null;
  }

  async tagDigest(repo: string, tag: string): Promise<string | null> {
    const d = readSmall(join(this.repoDir(repo), '_manifests', 'tags', tag), SMALL_READ)
      ?.toString('utf8')
      .trim();
    try {
      parseDigest(d);
      return d!;
    } catch {
      return null;
    }
  }

  async readManifest(digest: string): Promise<Buffer> {
    return readSmall(this.blobPath(digest), SMALL_READ) ?? readFile(this.blobPath(digest));
  }

  /**
   * Removes one manifest from `repo` without any check or cascade (see {@link deleteManifestCascade}):
   * the tags on it, its referrer entry, its revision link, then the reverse links it owns.
   */
  async deleteManifest(repo: string, digest: string, subjectDigest?: string): Promise<boolean> {
    return this.withRepoLock(repo, true, async () => {
      if (!(await this.hasRevision(repo, digest))) return false;
      const m = await this.loadManifest(repo, digest);
      return this.removeManifest(repo, digest, m, subjectDigest ?? m?.subject?.digest);
    });
  }

  /** Links that point at the manifest go before its revision, the ones it owns after (crash order). */
  private async removeManifest(repo: string, digest: string, m: Manifest | null, subject?: string): Promise<boolean> {
    const repoDir = this.repoDir(repo);
    for (const tag of (await this.listTags(repo)) ?? []) {
      if ((await this.tagDigest(repo, tag)) === digest) await removeIfExists(join(repoDir, '_manifests', 'tags', tag));
    }
    if (subject) {
      const entry = join(repoDir, '_referrers', this.linkName(subject), this.linkName(digest));
      if (await removeIfExists(entry)) await rmdir(dirname(entry)).catch(() => {});
    }
    const removed = await removeIfExists(join(repoDir, '_manifests', 'revisions', this.linkName(digest)));
    for (const link of m ? this.reverseLinkPaths(repo, digest, m) : []) {
      if (await removeIfExists(link)) await rmdir(dirname(link)).catch(() => {});
    }
    return removed;
  }

  /**
   * DELETE of a manifest by digest: null when `repo` does not have it. Deletes it with its
   * referrers, recursively (signatures of signatures, found through `_referrers/`), and takes
   * them out of the referrers tag schema index of their subject (the `<alg>-<hex>` tag): that
   * index is stored anew without them and the tag moved (or removed once the index is empty),
   * and its old version deleted. Refused as a whole (409 DENIED, nothing changed) when any other
   * index of the repository lists one of them.
   */
  async deleteManifestCascade(
    repo: string,
    digest: string
  ): Promise<{
    deleted: string[];
    rewritten: Array<{ tag: string; from: string; to: string | null }>;
    /** Digests whose referrers or covering indexes changed (subjects, listed manifests, the deleted). */
    affected: string[];
  } | null> {
    return this.withRepoLock(repo, true, async () => {
      if (!(await this.hasRevision(repo, digest))) return null;
      // 1. the manifest and its referrers, recursively
      const doomed = new Map<string, Manifest | null>();
      const referrerOf = new Map<string, string>();
      const queue = [digest];
      for (let d = queue.shift(); d !== undefined; d = queue.shift()) {
        if (doomed.has(d)) continue;
        doomed.set(d, await this.loadManifest(repo, d));
        const dir = join(this.repoDir(repo), '_referrers', this.linkName(d));
        for (const r of await this.linkedManifests(repo, dir)) {
          if (doomed.has(r) || referrerOf.has(r)) continue;
          referrerOf.set(r, d);
          queue.push(r);
        }
      }
      // 2. every index that lists one of them: the subject's tag schema index is rewritten,
      //    any other refuses the delete
      const rewrites = new Map<string, string>(); // index digest -> its tag schema tag
      const lists = (m: Manifest | null | undefined, d: string): boolean =>
        !!m && isImageIndex(m) && m.manifests.some((x) => x.digest === d);
      const refuse = (d: string, index: string): RegistryError => {
        const what = referrerOf.has(d) ? `manifest ${d} (a referrer of ${referrerOf.get(d)})` : `manifest ${d}`;
        return new RegistryError(
          'DENIED',
          `${what} is listed by index ${index} in repository ${repo}: delete the index first`,
          409,
          {},
          { digest: d, index }
        );
      };
      for (const [d, m] of doomed) {
        for (const p of await this.indexesListing(repo, d)) {
          if (doomed.has(p)) continue;
          const subject = m?.subject?.digest;
          const tag = subject ? referrersTagOf(subject) : undefined;
          if (tag && (await this.tagDigest(repo, tag)) === p) rewrites.set(p, tag);
          else throw refuse(d, p);
        }
      }
      const olds = new Map<string, { mediaType: string; manifest: Manifest }>();
      for (const p of rewrites.keys()) {
        for (const q of await this.indexesListing(repo, p)) if (!doomed.has(q)) throw refuse(p, q);
        const info = await this.manifestInfo(repo, p);
        const manifest = await this.loadManifest(repo, p);
        if (!info || !manifest) throw refuse([...doomed.keys()].find((d) => lists(manifest, d)) ?? digest, p);
        olds.set(p, { mediaType: info.mediaType, manifest });
      }
      // 3. the new versions of the tag schema indexes, tags moved; the old versions go in step 4
      const rewritten: Array<{ tag: string; from: string; to: string | null }> = [];
      for (const [p, tag] of rewrites) {
        const { mediaType, manifest: old } = olds.get(p)!;
        const json = JSON.parse((await this.readManifest(p)).toString('utf8')) as { manifests: Descriptor[] };
        json.manifests = json.manifests.filter((x) => !doomed.has(x.digest));
        const tags: string[] = [];
        for (const t of (await this.listTags(repo)) ?? []) if ((await this.tagDigest(repo, t)) === p) tags.push(t);
        let to: string | null = null;
        if (json.manifests.length) {
          const bytes = Buffer.from(JSON.stringify(json));
          to = digestOf(bytes);
          await this.storeManifest(repo, bytes, mediaType, to, parseManifest(bytes, mediaType));
          for (const t of tags) await writeFileAtomic(join(this.repoDir(repo), '_manifests', 'tags', t), to);
        } else {
          for (const t of tags) await this.deleteTag(repo, t);
        }
        rewritten.push({ tag, from: p, to });
        doomed.set(p, old);
      }
      // 4. removal, an index before the manifests it lists (no index ever lists a missing one)
      const remaining = new Set(doomed.keys());
      const deleted: string[] = [];
      const affected = new Set<string>();
      while (remaining.size) {
        const all = [...remaining];
        const free = all.filter((d) => !all.some((o) => o !== d && lists(doomed.get(o), d)));
        for (const d of free.length ? free : all) {
          const m = doomed.get(d) ?? null;
          await this.removeManifest(repo, d, m, m?.subject?.digest);
          remaining.delete(d);
          deleted.push(d);
          affected.add(d);
          if (m?.subject) affected.add(m.subject.digest);
          if (m && isImageIndex(m)) for (const c of m.manifests) affected.add(c.digest);
        }
      }
      return { deleted, rewritten, affected: [...affected].sort() };
    });
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
      names = readdirSync(dir)
        .filter((n) => !isTempName(n))
        .sort();
    } catch {
      return [];
    }
    const out: Descriptor[] = [];
    for (const n of names) {
      // Descriptor files are small: read synchronously (see readSmall), the large one async.
      const path = join(dir, n);
      try {
        const bytes = readSmall(path, SMALL_READ) ?? (await readFile(path));
        out.push(JSON.parse(bytes.toString('utf8')) as Descriptor);
      } catch {
        // an unreadable entry is reported by fsck; the listing stays usable
      }
    }
    return out;
  }

  /** Names of the referrer entries of a subject (cheap: one directory listing, no file read). */
  async referrerLinks(repo: string, subjectDigest: string): Promise<string[]> {
    try {
      const dir = join(this.repoDir(repo), '_referrers', this.linkName(subjectDigest));
      return (await readdir(dir)).filter((n) => !isTempName(n)).sort();
    } catch {
      return [];
    }
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

/** The referrers tag schema tag of a subject: `<alg>-<hex>`, cut to the 128 characters a tag may have. */
function referrersTagOf(digest: string): string {
  const { algorithm, hex } = parseDigest(digest);
  return `${algorithm}-${hex}`.slice(0, 128);
}

/** `sha256-<hex>` (a link file name) back to `sha256:<hex>`. */
export function fromLinkName(name: string): string {
  const i = name.indexOf('-');
  return `${name.slice(0, i)}:${name.slice(i + 1)}`;
}

/** Entries of a directory without temp files; none when it does not exist. */
async function listNames(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((n) => !isTempName(n));
  } catch {
    return [];
  }
}

/** Sets a file's mtime to now; false when it does not exist. */
async function touch(path: string): Promise<boolean> {
  const now = new Date();
  try {
    await utimes(path, now, now);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/**
 * When an upload session began: `created` of its state.json, else (older or damaged sessions)
 * the mtime of state.json or of the session directory. Null when the session is gone.
 */
export async function uploadCreatedAt(dir: string): Promise<number | null> {
  try {
    const state = JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')) as { created?: unknown };
    const t = typeof state.created === 'string' ? Date.parse(state.created) : NaN;
    if (Number.isFinite(t)) return t;
  } catch {
    // fall back to the mtime
  }
  for (const p of [join(dir, 'state.json'), dir]) {
    try {
      return (await stat(p)).mtimeMs;
    } catch {
      // next
    }
  }
  return null;
}

/** Total size of the files directly in `dir`. */
export async function dirSize(dir: string): Promise<number> {
  let n = 0;
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    n += await stat(join(dir, name)).then(
      (s) => (s.isFile() ? s.size : 0),
      () => 0
    );
  }
  return n;
}

/**
 * A readers-writer lock, first come first served: readers share it, a writer holds it alone,
 * and a waiting writer stops later readers from overtaking it.
 */
class RwLock {
  private readers = 0;
  private writer = false;
  private readonly queue: Array<{ exclusive: boolean; grant: () => void }> = [];

  get idle(): boolean {
    return !this.writer && this.readers === 0 && this.queue.length === 0;
  }

  acquire(exclusive: boolean): Promise<void> {
    if (this.queue.length === 0 && !this.writer && (!exclusive || this.readers === 0)) {
      if (exclusive) this.writer = true;
      else this.readers++;
      return Promise.resolve();
    }
    return new Promise((grant) => this.queue.push({ exclusive, grant }));
  }

  release(exclusive: boolean): void {
    if (exclusive) this.writer = false;
    else this.readers--;
    while (this.queue.length && !this.writer) {
      const next = this.queue[0]!;
      if (next.exclusive && this.readers > 0) break;
      this.queue.shift();
      if (next.exclusive) this.writer = true;
      else this.readers++;
      next.grant();
    }
  }
}

/**
 * The end of an upload's pipeline: counts the bytes, refuses them past a cap, hashes them (when
 * given a hash) and appends them to an open file. Chunks that queue up while a write is in flight
 * go out together in one writev (up to {@link SINK_BATCH} bytes wait: that bounds what an upload
 * holds), so a fast client costs a few large writes instead of one per socket read.
 *
 * `release`: the chunks are request body chunks (IncomingMessage) and this sink is the body's only
 * consumer: each is a fresh copy Node's HTTP parser made for the stream alone, which nothing else
 * refers to once it is hashed and written, so its memory is given back then (see
 * {@link releaseChunk}) instead of at V8's next collection. Buffers a caller passes in any other
 * stream are its own and are never released.
 */
class BlobSink extends Writable {
  bytes = 0;
  constructor(
    private readonly fh: FileHandle,
    private readonly hash: Hash | null,
    private readonly cap: number,
    private readonly release: boolean
  ) {
    super({ highWaterMark: SINK_BATCH });
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.append([chunk], cb);
  }
  override _writev(chunks: Array<{ chunk: Buffer }>, cb: (err?: Error | null) => void): void {
    this.append(
      chunks.map((c) => c.chunk),
      cb
    );
  }
  private append(chunks: Buffer[], cb: (err?: Error | null) => void): void {
    let n = 0;
    for (const c of chunks) n += c.length;
    if (this.bytes + n > this.cap) return cb(new OciError('SIZE_INVALID', `upload exceeds the size limit`));
    this.bytes += n;
    for (const c of chunks) this.hash?.update(c);
    writeAll(this.fh, chunks).then(() => {
      if (this.release) for (const c of chunks) releaseChunk(c);
      cb();
    }, cb);
  }
  digest(): string {
    if (!this.hash) throw new OciError('BLOB_UPLOAD_INVALID', 'the upload has no running digest');
    return this.hash.digest('hex');
  }
}

/** How many bytes of an upload may wait for the write in flight before the body is paused. */
const SINK_BATCH = 1024 * 1024;

/** Appends `chunks` to `fh` (opened for appending), looping over short writes. */
async function writeAll(fh: FileHandle, chunks: Buffer[]): Promise<void> {
  let rest = chunks;
  while (rest.length) {
    let { bytesWritten } = await fh.writev(rest);
    if (bytesWritten === 0 && rest.some((c) => c.length > 0))
      throw new OciError('BLOB_UPLOAD_INVALID', 'the file system took no bytes of an upload');
    const next: Buffer[] = [];
    for (const c of rest) {
      if (bytesWritten >= c.length) bytesWritten -= c.length;
      else {
        next.push(bytesWritten ? c.subarray(bytesWritten) : c);
        bytesWritten = 0;
      }
    }
    rest = next;
  }
}

/**
 * Frees the memory of a buffer its owner is done with, now. Every request body chunk is a
 * separate allocation that V8 frees only at its next collection, and its heuristic for those
 * waits for 32 MiB of them: an upload would hold that much garbage (a third of the server's
 * memory) at any moment. Transferring the buffer into a message on a closed port detaches it
 * (per the HTML structured-clone rules the transfer happens whether or not the port is
 * entangled) and the message, never delivered, frees the bytes. Only a buffer that spans its
 * whole ArrayBuffer is released: a slice of a shared one (Buffer's pool) is left alone.
 */
function releaseChunk(chunk: Buffer): void {
  const ab = chunk.buffer;
  if (chunk.byteOffset !== 0 || chunk.byteLength !== ab.byteLength || !(ab instanceof ArrayBuffer)) return;
  if (!releasePort) {
    releasePort = new MessageChannel().port1;
    releasePort.close();
  }
  releasePort.postMessage(null, [ab]);
}

let releasePort: MessagePort | undefined;

/** The read size of blob pulls, and the alignment of their reads. */
const CHUNK = 1024 * 1024;
const chunkPool: Buffer[] = [];

function takeChunkBuffer(): Buffer {
  return chunkPool.pop() ?? Buffer.allocUnsafeSlow(CHUNK);
}

/** Back to the pool (eight kept: four pulls' worth), once nothing refers to the bytes any more. */
function returnChunkBuffer(b: Buffer): void {
  if (chunkPool.length < 8) chunkPool.push(b);
}

function prematureClose(): Error {
  return Object.assign(new Error('the response was closed before the blob was sent'), {
    code: 'ERR_STREAM_PREMATURE_CLOSE',
  });
}

/** Writes `chunk`; resolves once the stream has flushed it (so its memory may be reused). */
function writeFlushed(out: Writable, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    if (out.destroyed || out.writableEnded) return reject(prematureClose());
    out.write(chunk, (err) => (err ? reject(err) : resolve()));
  });
}

/** Files up to this size are read in one synchronous call on the request path (see readSmall). */
const SMALL_READ = 256 * 1024;

/**
 * A small file's bytes, read synchronously; null when it is missing, unreadable or larger than
 * `max`. The links, tags, descriptors and most manifests a request reads are a few hundred bytes
 * on the local disk: open, fstat, read and close take microseconds in this thread, where the
 * promise API sends each through the thread pool and back (four round trips per file, the larger
 * part of a manifest request's time). Blob contents still stream.
 */
function readSmall(path: string, max: number): Buffer | null {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return null;
  }
  try {
    const size = fstatSync(fd).size;
    if (size > max) return null;
    const buf = Buffer.allocUnsafe(size);
    let n = 0;
    while (n < size) {
      const r = readSync(fd, buf, n, size - n, n);
      if (r === 0) break;
      n += r;
    }
    return n === size ? buf : buf.subarray(0, n);
  } catch {
    return null;
  } finally {
    closeSync(fd);
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

/**
 * Deletes temp files (`.tmp-*`) under root, left by a crash mid-write: all of them at start-up, or
 * (gc, beside a running server) only those last written before `cutoff` (a write in progress
 * keeps its temp file young). `dryRun` only counts.
 */
export async function removeTempFiles(
  root: string,
  options: { cutoff?: number; dryRun?: boolean } = {}
): Promise<{ count: number; bytes: number }> {
  const out = { count: 0, bytes: 0 };
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
        const st = await lstat(p).catch(() => null);
        if (!st || (options.cutoff !== undefined && st.mtimeMs > options.cutoff)) continue;
        if (
          !options.dryRun &&
          !(await unlink(p).then(
            () => true,
            () => false
          ))
        )
          continue;
        out.count++;
        out.bytes += st.size;
        changed = true;
      }
    }
    if (changed && !options.dryRun) await fsyncDir(dir).catch(() => {});
  };
  await walk(root);
  return out;
}
