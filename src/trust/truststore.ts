import type { X509Certificate } from 'node:crypto';
import { lstatSync, readdirSync, type Stats } from 'node:fs';
import { copyFile, lstat, mkdir, readdir, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { certInfo, parseCertificates } from '../pki/index.ts';
import { MAX_CONFIG_FILE_SIZE, readFileBounded, SignetError, signetHome } from '../util/index.ts';

export type StoreType = 'ca' | 'signingAuthority' | 'tsa';
export const STORE_TYPES: StoreType[] = ['ca', 'signingAuthority', 'tsa'];
const NAME_RE = /^[a-zA-Z0-9_.-]+$/;

/**
 * A store's directory as last read: the directory's own stat and every file's, so that a store
 * changed in any way (a file added, removed, renamed, replaced or rewritten in place) is read
 * again. Checked with synchronous lstat calls (a few microseconds each, no thread-pool round trip):
 * it runs for every signature verified.
 */
interface Loaded {
  dirKey: StatKey;
  /** Each entry's full path and stat key. */
  files: Array<[path: string, key: StatKey]>;
  certs: X509Certificate[];
  /**
   * Changed so recently that a further change within the file system's timestamp granularity
   * could leave every stat as it is (the "racily clean" case git knows): such a load is never
   * reused, the next call reads the store again.
   */
  racy: boolean;
}

const loaded = new Map<string, Loaded>();
/** root, type and name → the store directory, for stores found under `<root>/x509` (the usual place). */
const direct = new Map<string, string>();

/**
 * How recent a change makes a load racy. Linux stamps inodes from a coarse clock (a few ms); some
 * file systems (FAT, some NFS servers) keep seconds: two seconds covers them.
 */
const RACY_MS = 2000;

/** What identifies one state of a file: inode, size, mtime, ctime and mode. */
interface StatKey {
  ino: number;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  mode: number;
}

function statKey(st: Stats): StatKey {
  return { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, mode: st.mode };
}

/** Whether a stat is the state `k` recorded (compared field by field: no string built per call). */
function sameStat(st: Stats, k: StatKey): boolean {
  return (
    st.ino === k.ino && st.size === k.size && st.mtimeMs === k.mtimeMs && st.ctimeMs === k.ctimeMs && st.mode === k.mode
  );
}

/** The stat keys of a store directory and its entries, or null when it cannot be listed. */
function takeStamp(dir: string): { dirKey: StatKey; files: Array<[string, StatKey]>; newest: number } | null {
  try {
    const d = lstatSync(dir);
    let newest = Math.max(d.mtimeMs, d.ctimeMs);
    const files: Array<[string, StatKey]> = [];
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      const f = lstatSync(path);
      newest = Math.max(newest, f.mtimeMs, f.ctimeMs);
      files.push([path, statKey(f)]);
    }
    return { dirKey: statKey(d), files, newest };
  } catch {
    return null;
  }
}

/** Whether a store directory is exactly as it was when `l` was read (no entry added, removed or changed). */
function unchanged(dir: string, l: Loaded): boolean {
  const d = lstatSync(dir, { throwIfNoEntry: false });
  // An entry added, removed or renamed changes the directory's own mtime and ctime.
  if (!d || !sameStat(d, l.dirKey)) return false;
  for (const [path, key] of l.files) {
    const f = lstatSync(path, { throwIfNoEntry: false });
    if (!f || !sameStat(f, key)) return false;
  }
  return true;
}

function storeError(message: string): never {
  throw new SignetError('TRUST_STORE_INVALID', message);
}

/**
 * Trust stores laid out as notation lays them out: `<root>/x509/{ca,signingAuthority,tsa}/<name>/`
 * holding PEM or DER certificates. `root` may be the directory holding `x509/` or its parent
 * holding `truststore/`.
 */
export class TrustStore {
  readonly root: string;
  /** Named stores narrowed to these certificates (by `type:name`), see narrowed(). */
  private narrowing: ReadonlyMap<string, X509Certificate[]> | undefined;

  constructor(root: string = join(signetHome(), 'truststore')) {
    this.root = root;
  }

  /**
   * This store with some named stores narrowed to the certificates `allowed` lists (by
   * `type:name`): a view, nothing is written. Every way of reading a store sees the narrowed list
   * (cachedCertificates answers it, and getCertificates asks cachedCertificates first).
   */
  narrowed(allowed: ReadonlyMap<string, X509Certificate[]>): TrustStore {
    const view = new TrustStore(this.root);
    view.narrowing = this.narrowing ? new Map([...this.narrowing, ...allowed]) : allowed;
    return view;
  }

  private async x509Dir(): Promise<string> {
    return this.x509DirSync();
  }

  /** `<root>/x509`, else `<root>/truststore/x509` (looked up on every call: either may appear). */
  private x509DirSync(): string {
    const direct = join(this.root, 'x509');
    if (lstatSync(direct, { throwIfNoEntry: false })?.isDirectory()) return direct;
    const nested = join(this.root, 'truststore', 'x509');
    if (lstatSync(nested, { throwIfNoEntry: false })?.isDirectory()) return nested;
    return direct;
  }

  static checkName(type: string, name: string): void {
    if (!STORE_TYPES.includes(type as StoreType))
      throw new SignetError('USAGE', `unknown trust store type ${JSON.stringify(type)} (ca, signingAuthority or tsa)`);
    if (!NAME_RE.test(name))
      throw new SignetError('USAGE', `invalid trust store name ${JSON.stringify(name)}: [a-zA-Z0-9_.-]+`);
  }

  /**
   * The certificates of one named store when its last load is still exactly what is on disk (the
   * same lstat checks getCertificates makes first), else undefined: then getCertificates reads it.
   * Synchronous, so that a verification whose stores are unchanged needs no await for them.
   */
  cachedCertificates(type: StoreType, name: string): X509Certificate[] | undefined {
    TrustStore.checkName(type, name);
    const narrowed = this.narrowing?.get(`${type}:${name}`);
    if (narrowed) return narrowed;
    // A store found under <root>/x509 is looked for there first: were that directory removed or
    // replaced, the store directory's own stat would change with it (then all is looked up again).
    const known = direct.get(`${this.root}\0${type}\0${name}`);
    const first = known ? loaded.get(known) : undefined;
    return first && !first.racy && unchanged(known!, first) ? first.certs : undefined;
  }

  /** The certificates of one named store, every rule of the spec checked (notary-spec §9). */
  async getCertificates(type: StoreType, name: string): Promise<X509Certificate[]> {
    const cached = this.cachedCertificates(type, name);
    if (cached) return cached;
    const base = this.x509DirSync();
    const dir = join(base, type, name);
    if (base === join(this.root, 'x509')) direct.set(`${this.root}\0${type}\0${name}`, dir);
    // Reuse a load only while the directory and every file in it are unchanged, and not racily so.
    const hit = loaded.get(dir);
    if (hit && !hit.racy && unchanged(dir, hit)) return hit.certs;
    const startedAt = Date.now();
    // The stamp is taken before the files are read: a change in between makes the next call read again.
    const stamp = takeStamp(dir);
    const certs = await this.load(type, name, dir);
    if (stamp)
      loaded.set(dir, { dirKey: stamp.dirKey, files: stamp.files, certs, racy: stamp.newest >= startedAt - RACY_MS });
    else loaded.delete(dir);
    return certs;
  }

  private async load(type: StoreType, name: string, dir: string): Promise<X509Certificate[]> {
    let st;
    try {
      st = await lstat(dir);
    } catch {
      storeError(`the trust store "${name}" of type "${type}" does not exist`);
    }
    if (st.isSymbolicLink()) storeError(`the trust store "${name}" of type "${type}" is a symbolic link`);
    if (!st.isDirectory()) storeError(`the trust store "${name}" of type "${type}" is not a directory`);
    const certs: X509Certificate[] = [];
    for (const entry of (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(dir, entry.name);
      if (entry.isSymbolicLink())
        storeError(`trust store "${name}" of type "${type}": ${entry.name} is a symbolic link`);
      if (entry.isDirectory())
        storeError(
          `trust store "${name}" of type "${type}": ${entry.name} is a directory; a named store holds certificate files only`
        );
      const bytes = await readFileBounded(p, MAX_CONFIG_FILE_SIZE, `trust store "${name}" file ${entry.name}`);
      for (const cert of parseCertificates(bytes, `trust store "${name}" file ${entry.name}`)) {
        const info = certInfo(cert);
        if (type === 'tsa' && !info.selfSigned)
          storeError(`trust store "${name}" of type "tsa": ${entry.name} is not a self-signed root certificate`);
        if (!cert.ca && !info.selfSigned)
          storeError(
            `trust store "${name}" of type "${type}": certificate in ${entry.name} is not a CA certificate or self-signed signing certificate`
          );
        certs.push(cert);
      }
    }
    if (certs.length === 0) storeError(`the trust store "${name}" of type "${type}" has no certificates`);
    return certs;
  }

  /** Adds certificate files to a store (created when missing), checking them first. */
  async add(type: StoreType, name: string, files: string[]): Promise<string[]> {
    TrustStore.checkName(type, name);
    for (const f of files) {
      const certs = parseCertificates(await readFileBounded(f, MAX_CONFIG_FILE_SIZE), f);
      for (const c of certs) {
        const info = certInfo(c);
        if (type === 'tsa' && !info.selfSigned)
          throw new SignetError('CERT_FILE_INVALID', `${f}: a tsa store takes self-signed root certificates only`);
        if (!c.ca && !info.selfSigned)
          throw new SignetError('CERT_FILE_INVALID', `${f}: not a CA certificate or a self-signed signing certificate`);
      }
    }
    const dir = join(await this.x509Dir(), type, name);
    await mkdir(dir, { recursive: true });
    const added: string[] = [];
    for (const f of files) {
      const dest = join(dir, basename(f));
      await copyFile(f, dest);
      added.push(dest);
    }
    return added;
  }

  async list(): Promise<Array<{ type: StoreType; name: string; files: string[] }>> {
    const base = await this.x509Dir();
    const out: Array<{ type: StoreType; name: string; files: string[] }> = [];
    for (const type of STORE_TYPES) {
      let names: string[] = [];
      try {
        names = (await readdir(join(base, type))).sort();
      } catch {
        continue;
      }
      for (const name of names)
        out.push({ type, name, files: (await readdir(join(base, type, name)).catch(() => [])).sort() });
    }
    return out;
  }

  async delete(type: StoreType, name: string, file?: string): Promise<void> {
    TrustStore.checkName(type, name);
    const dir = join(await this.x509Dir(), type, name);
    if (file) {
      if (file !== basename(file)) throw new SignetError('USAGE', 'give the certificate file name only');
      await rm(join(dir, file));
    } else await rm(dir, { recursive: true });
  }
}
