import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isImageIndex, parseManifest } from '../oci/index.ts';
import { SignetError } from '../util/index.ts';
import { RegistryStorage, REVERSE_LINK_KINDS, REVERSE_LINKS_MARKER } from './storage.ts';

export interface FsckReport {
  /** Blobs (manifests included) checked against their digests. */
  objects: number;
  manifests: number;
  tags: number;
  referrers: number;
  /** Reverse links (`_manifests/parents/…`, `_manifests/users/…`) checked. */
  links: number;
  /** Objects whose content does not match their digest, or manifests that do not parse. */
  corrupt: string[];
  /**
   * Links, tags, referrer entries, reverse links or manifest references that point at nothing;
   * and, in a store that keeps reverse links, a manifest reference without its reverse link.
   */
  dangling: string[];
  /** Temp files left by interrupted writes (harmless; removed at server start). */
  tempFiles: number;
  /** Upload sessions in progress or abandoned. */
  uploads: number;
}

async function hashFile(path: string, algorithm: string): Promise<string> {
  const h = createHash(algorithm);
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

async function list(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch {
    return [];
  }
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/** A store to check is a directory `signet serve` made: a missing one is never "sound". */
export async function checkStoreRoot(root: string): Promise<void> {
  const hint = '(give the --root of signet serve)';
  let isDir: boolean;
  try {
    isDir = (await stat(root)).isDirectory();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') {
      throw new SignetError('IO', `cannot read ${root}: ${(err as Error).message}`);
    }
    const message = `no registry store at ${root}: the directory does not exist ${hint}`;
    throw new SignetError('STORE_MISSING', message);
  }
  if (!isDir) throw new SignetError('STORE_MISSING', `${root} is not a directory ${hint}`);
  if (!(await isDirectory(join(root, 'blobs'))) && !(await isDirectory(join(root, 'repositories')))) {
    const message = `${root} is not a registry store: it has neither blobs/ nor repositories/ ${hint}`;
    throw new SignetError('STORE_INVALID', message);
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

export function linkToDigest(name: string): string {
  const i = name.indexOf('-');
  return `${name.slice(0, i)}:${name.slice(i + 1)}`;
}

/**
 * Checks a registry store: every object against its digest, every manifest parses, and every
 * link, tag, referrer entry and manifest reference against existence. Read-only. A root that
 * does not exist (STORE_MISSING, kind 'usage') or is not a store (STORE_INVALID) is an error.
 */
export async function fsck(root: string): Promise<FsckReport> {
  await checkStoreRoot(root);
  const storage = new RegistryStorage(root);
  const report: FsckReport = {
    objects: 0,
    manifests: 0,
    tags: 0,
    referrers: 0,
    links: 0,
    corrupt: [],
    dangling: [],
    tempFiles: 0,
    uploads: 0,
  };
  for (const alg of await list(join(root, 'blobs'))) {
    for (const hex of await list(join(root, 'blobs', alg))) {
      if (hex.startsWith('.tmp-')) {
        report.tempFiles++;
        continue;
      }
      report.objects++;
      const actual = await hashFile(join(root, 'blobs', alg, hex), alg).catch(() => '');
      if (actual !== hex)
        report.corrupt.push(
          `blob ${alg}:${hex} (content hashes to ${actual ? `${alg}:${actual}` : 'nothing readable'})`
        );
    }
  }
  report.uploads = (await list(join(root, 'uploads'))).length;
  // Reverse links are checked for presence only where the server keeps them (see storage.ts).
  const keepsLinks = await isFile(join(root, REVERSE_LINKS_MARKER));
  for (const repo of await storage.listRepositories()) {
    const dir = join(root, 'repositories', ...repo.split('/'));
    const layers = new Set<string>();
    for (const l of await list(join(dir, '_layers'))) {
      if (l.startsWith('.tmp-')) {
        report.tempFiles++;
        continue;
      }
      const d = linkToDigest(l);
      layers.add(d);
      if (!(await isFile(storage.blobPath(d)))) report.dangling.push(`${repo}: layer link ${d} has no blob`);
    }
    const revisions = new Set<string>();
    for (const r of await list(join(dir, '_manifests', 'revisions'))) {
      if (r.startsWith('.tmp-')) {
        report.tempFiles++;
        continue;
      }
      const d = linkToDigest(r);
      revisions.add(d);
      report.manifests++;
      const mediaType = (await readFile(join(dir, '_manifests', 'revisions', r), 'utf8')).trim();
      let bytes: Buffer;
      try {
        bytes = await readFile(storage.blobPath(d));
      } catch {
        report.dangling.push(`${repo}: manifest ${d} has no blob`);
        continue;
      }
      try {
        const m = parseManifest(bytes, mediaType);
        const refs = isImageIndex(m)
          ? m.manifests.map((x) => x.digest)
          : [m.config, ...m.layers].filter((x) => !x.urls?.length && x.size !== 2).map((x) => x.digest);
        for (const ref of refs) {
          const ok = isImageIndex(m)
            ? await isFile(join(dir, '_manifests', 'revisions', ref.replace(':', '-')))
            : layers.has(ref) || (await isFile(join(dir, '_layers', ref.replace(':', '-'))));
          if (!ok) report.dangling.push(`${repo}: manifest ${d} references missing ${ref}`);
        }
        if (keepsLinks) {
          const kind = isImageIndex(m) ? 'parents' : 'users';
          const linked = isImageIndex(m)
            ? m.manifests.map((x) => x.digest)
            : [m.config, ...m.layers].filter((x) => !x.urls?.length).map((x) => x.digest);
          for (const ref of new Set(linked)) {
            const link = `_manifests/${kind}/${ref.replace(':', '-')}/${r}`;
            if (!(await isFile(join(dir, link))))
              report.dangling.push(`${repo}: manifest ${d} references ${ref} without its reverse link ${link}`);
          }
        }
      } catch (err) {
        report.corrupt.push(`${repo}: manifest ${d} does not parse (${(err as Error).message})`);
      }
    }
    for (const t of await list(join(dir, '_manifests', 'tags'))) {
      if (t.startsWith('.tmp-')) {
        report.tempFiles++;
        continue;
      }
      report.tags++;
      const d = (await readFile(join(dir, '_manifests', 'tags', t), 'utf8')).trim();
      if (!revisions.has(d)) report.dangling.push(`${repo}: tag ${t} points at missing manifest ${d}`);
    }
    for (const kind of REVERSE_LINK_KINDS) {
      for (const child of await list(join(dir, '_manifests', kind))) {
        for (const l of await list(join(dir, '_manifests', kind, child))) {
          if (l.startsWith('.tmp-')) {
            report.tempFiles++;
            continue;
          }
          report.links++;
          if (!revisions.has(linkToDigest(l)))
            report.dangling.push(
              `${repo}: reverse link _manifests/${kind}/${child}/${l} names missing manifest ${linkToDigest(l)}`
            );
        }
      }
    }
    for (const s of await list(join(dir, '_referrers'))) {
      for (const r of await list(join(dir, '_referrers', s))) {
        if (r.startsWith('.tmp-')) {
          report.tempFiles++;
          continue;
        }
        report.referrers++;
        if (!revisions.has(linkToDigest(r)))
          report.dangling.push(`${repo}: referrer entry ${linkToDigest(r)} of ${linkToDigest(s)} has no manifest`);
      }
    }
  }
  return report;
}
