import { randomBytes } from 'node:crypto';
import { lstat, readdir, readFile, rename, rm, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { isImageIndex, parseManifest } from '../oci/index.ts';
import { SignetError, TEMP_PREFIX, isTempName, silentLogger, type Logger } from '../util/index.ts';
import { checkStoreRoot, linkToDigest } from './fsck.ts';
import {
  DEFAULT_UPLOAD_TTL_MS,
  REVERSE_LINK_KINDS,
  RegistryStorage,
  dirSize,
  removeTempFiles,
  uploadCreatedAt,
} from './storage.ts';

/**
 * Garbage collection of the embedded registry's store (`signet serve gc`), and the server's own
 * sweep of expired upload sessions (`startMaintenance`).
 *
 * What goes: blobs in no repository's `_layers` and not a manifest in any repository's
 * revisions (nor, for stores damaged by older versions, used by such a manifest) once older
 * than the grace period; upload sessions created longer than the upload TTL ago; temp files
 * (`.tmp-*`) older than the grace period; reverse links older than the grace period whose
 * manifest the repository does not have (left by a crash between two writes). Repository
 * metadata (tags, revisions, `_layers` links, referrer entries) is never touched: what a
 * repository holds is changed by the registry API alone.
 *
 * Online safety (gc in its own process beside a running server and pushes in flight). gc
 * cannot take the server's locks, so it relies on one rule the server keeps and one it keeps:
 *
 * 1. The server makes a blob young before anything new references it. Committing a blob gives
 *    it a fresh mtime (an upload's data is touched first: chunks may be old), and a blob that is
 *    already in the store is touched (`utimes`) before a `_layers` link, a mount or a manifest
 *    revision names it. The touch fails with ENOENT when the blob is gone, and the server then
 *    writes the content it holds (upload, manifest PUT) or answers "not mountable".
 * 2. gc records its start time T0 and only removes a blob whose mtime is older than
 *    T0 − grace, and only after moving it aside atomically (rename to a `.tmp-gc-*` name) and
 *    checking the mtime again on the moved file. A touch before the rename shows in that mtime
 *    (gc puts the blob back); a touch after it fails (rule 1 takes over).
 *
 * The race between gc's "is it referenced" scan and a concurrent putManifest/linkBlob: a link
 * that existed before T0 and still exists is seen by the scan. A link written after T0 was
 * preceded by a touch at most δ earlier, δ being the server's touch-to-link time (two fsyncs,
 * milliseconds); with grace > δ that touch is after T0 − grace, so the blob is young when gc
 * looks — or the touch comes after gc moved the blob, fails, and the server writes the blob
 * again. Hence a blob gc removes was unreferenced at the moment it was moved aside. A blob
 * uploaded whose manifest is not pushed yet is in its repository's `_layers`, so it is kept;
 * the grace period covers the instants between commit and link, and uploads still in flight.
 * Grace 0 is only safe offline: a blob committed a moment ago but not yet linked would go.
 *
 * A reverse link is written before its manifest's revision (see storage.ts): one whose
 * manifest is missing may belong to a PUT in flight, so it too is removed only when older than
 * the grace period, and by the same move-aside-then-check step.
 *
 * Upload sessions are removed by `created` (state.json; else the mtime). The server refuses a
 * session past its TTL (BLOB_UPLOAD_UNKNOWN) even before its sweep removed it, so a gc whose
 * --upload-ttl is at least the server's never removes a session the server would still take.
 */

export const DEFAULT_GRACE_MS = 3600_000;

export interface GcOptions {
  /** Unreferenced blobs, temp files and stale reverse links younger than this stay. Default 1 h. */
  graceMs?: number;
  /** Upload sessions created longer ago than this go. Default 24 h. */
  uploadTtlMs?: number;
  /** Report what would go, remove nothing. */
  dryRun?: boolean;
  logger?: Logger;
}

export interface GcCount {
  count: number;
  bytes: number;
}

export interface GcReport {
  dryRun: boolean;
  graceMs: number;
  uploadTtlMs: number;
  /** Unreferenced blobs removed (or, dry, that would be), with their digests. */
  blobs: GcCount & { digests: string[] };
  /** Unreferenced blobs kept because they are younger than the grace period. */
  youngBlobs: number;
  uploads: GcCount;
  tempFiles: GcCount;
  /** Reverse links naming a manifest the repository does not have. */
  staleLinks: GcCount;
}

async function list(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch {
    return [];
  }
}

/**
 * Removes `path` if its mtime is at or before `cutoff`: moves it aside first and checks the moved
 * file, so a touch that raced the decision puts it back. The removed size, or null when kept.
 */
async function removeIfOld(path: string, cutoff: number): Promise<number | null> {
  const aside = join(dirname(path), `${TEMP_PREFIX}gc-${basename(path)}-${randomBytes(6).toString('hex')}`);
  try {
    await rename(path, aside);
  } catch {
    return null; // gone already
  }
  const st = await lstat(aside);
  if (st.mtimeMs > cutoff) {
    await rename(aside, path);
    return null;
  }
  await unlink(aside);
  return st.size;
}

/**
 * Collects garbage in a registry store; safe beside a running server (see the module comment).
 * A root that does not exist (STORE_MISSING, kind 'usage') or is not a store is an error.
 */
export async function gc(root: string, options: GcOptions = {}): Promise<GcReport> {
  const graceMs = options.graceMs ?? DEFAULT_GRACE_MS;
  const uploadTtlMs = options.uploadTtlMs ?? DEFAULT_UPLOAD_TTL_MS;
  for (const [name, v] of [
    ['grace', graceMs],
    ['upload TTL', uploadTtlMs],
  ] as const)
    if (!Number.isFinite(v) || v < 0) throw new SignetError('USAGE', `gc: the ${name} must be a duration ≥ 0`);
  const dryRun = options.dryRun ?? false;
  const logger = options.logger ?? silentLogger;
  await checkStoreRoot(root);
  const started = Date.now();
  const cutoff = started - graceMs;
  const report: GcReport = {
    dryRun,
    graceMs,
    uploadTtlMs,
    blobs: { count: 0, bytes: 0, digests: [] },
    youngBlobs: 0,
    uploads: { count: 0, bytes: 0 },
    tempFiles: { count: 0, bytes: 0 },
    staleLinks: { count: 0, bytes: 0 },
  };
  const storage = new RegistryStorage(root);

  // 1. upload sessions past their TTL
  for (const uuid of await list(join(root, 'uploads'))) {
    const dir = join(root, 'uploads', uuid);
    const created = await uploadCreatedAt(dir);
    if (created === null || started - created <= uploadTtlMs) continue;
    const bytes = await dirSize(dir);
    if (!dryRun) await rm(dir, { recursive: true, force: true });
    report.uploads.count++;
    report.uploads.bytes += bytes;
  }

  // 2. what the repositories reference; stale reverse links on the way
  const referenced = new Set<string>();
  for (const repo of await storage.listRepositories()) {
    const dir = join(root, 'repositories', ...repo.split('/'));
    for (const l of await list(join(dir, '_layers'))) if (!isTempName(l)) referenced.add(linkToDigest(l));
    const revisions = new Set<string>();
    for (const r of await list(join(dir, '_manifests', 'revisions'))) {
      if (isTempName(r)) continue;
      const d = linkToDigest(r);
      revisions.add(d);
      referenced.add(d);
      // Blobs a manifest uses stay even when no `_layers` link names them (stores damaged by
      // deletes of older versions): gc never makes a manifest less pullable than it was.
      try {
        const mediaType = (await readFile(join(dir, '_manifests', 'revisions', r), 'utf8')).trim();
        const m = parseManifest(await readFile(storage.blobPath(d)), mediaType);
        if (!isImageIndex(m)) for (const b of [m.config, ...m.layers]) referenced.add(b.digest);
      } catch {
        // missing or corrupt: fsck reports it
      }
    }
    for (const kind of REVERSE_LINK_KINDS) {
      for (const child of await list(join(dir, '_manifests', kind))) {
        for (const l of await list(join(dir, '_manifests', kind, child))) {
          if (isTempName(l) || revisions.has(linkToDigest(l))) continue;
          const path = join(dir, '_manifests', kind, child, l);
          const st = await lstat(path).catch(() => null);
          if (!st || st.mtimeMs > cutoff) continue;
          // The manifest may have been stored since the listing: then the link is no longer stale.
          if (await storage.manifestInfo(repo, linkToDigest(l))) continue;
          const size = dryRun ? st.size : await removeIfOld(path, cutoff);
          if (size === null) continue;
          report.staleLinks.count++;
          report.staleLinks.bytes += size;
        }
      }
    }
  }

  // 3. unreferenced blobs older than the grace period
  for (const alg of await list(join(root, 'blobs'))) {
    for (const hex of await list(join(root, 'blobs', alg))) {
      if (isTempName(hex)) continue; // step 4
      const digest = `${alg}:${hex}`;
      if (referenced.has(digest)) continue;
      const path = join(root, 'blobs', alg, hex);
      const st = await lstat(path).catch(() => null);
      if (!st) continue;
      if (st.mtimeMs > cutoff) {
        report.youngBlobs++;
        continue;
      }
      const size = dryRun ? st.size : await removeIfOld(path, cutoff);
      if (size === null) {
        report.youngBlobs++;
        continue;
      }
      report.blobs.count++;
      report.blobs.bytes += size;
      report.blobs.digests.push(digest);
    }
  }

  // 4. temp files of interrupted writes (a write in progress keeps its temp file young)
  for (const top of ['blobs', 'repositories', 'uploads']) {
    const t = await removeTempFiles(join(root, top), { cutoff, dryRun });
    report.tempFiles.count += t.count;
    report.tempFiles.bytes += t.bytes;
  }

  logger.info(
    {
      dryRun,
      blobs: report.blobs.count,
      bytes: report.blobs.bytes,
      uploads: report.uploads.count,
      tempFiles: report.tempFiles.count,
      staleLinks: report.staleLinks.count,
    },
    dryRun ? 'gc (dry run)' : 'gc'
  );
  return report;
}

export interface MaintenanceOptions {
  /** Upload sessions older than this answer BLOB_UPLOAD_UNKNOWN and are swept. Default 24 h. */
  uploadTtlMs?: number | undefined;
  /** How often the sweep runs. Default a quarter of the TTL, between 100 ms and 10 min. */
  intervalMs?: number | undefined;
  logger?: Logger | undefined;
}

export interface Maintenance {
  stop(): void;
  /** Runs one sweep now (or joins the one running); what it removed. */
  sweep(): Promise<GcCount>;
}

/**
 * The running server's housekeeping: sets the storage's upload TTL (so an expired session is
 * unknown at once) and sweeps expired upload sessions on an unref'd timer.
 */
export function startMaintenance(storage: RegistryStorage, options: MaintenanceOptions = {}): Maintenance {
  const ttl = options.uploadTtlMs ?? DEFAULT_UPLOAD_TTL_MS;
  if (!Number.isFinite(ttl) || ttl <= 0) throw new SignetError('USAGE', `the upload TTL must be > 0, not ${ttl}`);
  const interval = options.intervalMs ?? Math.min(Math.max(Math.floor(ttl / 4), 100), 10 * 60_000);
  const logger = options.logger ?? silentLogger;
  storage.uploadTtlMs = ttl;
  let running: Promise<GcCount> | null = null;
  const sweep = (): Promise<GcCount> => {
    running ??= storage
      .expireUploads(ttl)
      .then(
        (r) => {
          if (r.count) logger.info({ removed: r.count, bytes: r.bytes }, 'expired upload sessions removed');
          return r;
        },
        (err: unknown) => {
          logger.warn({ err: (err as Error)?.message }, 'upload session sweep failed');
          return { count: 0, bytes: 0 };
        }
      )
      .finally(() => {
        running = null;
      });
    return running;
  };
  const timer = setInterval(() => void sweep(), interval);
  timer.unref();
  return {
    stop: () => clearInterval(timer),
    sweep,
  };
}
