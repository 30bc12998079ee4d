import type { X509Certificate } from 'node:crypto';
import { copyFile, lstat, mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { certInfo, parseCertificates } from '../pki/index.ts';
import { SignetError, signetHome } from '../util/index.ts';

export type StoreType = 'ca' | 'signingAuthority' | 'tsa';
export const STORE_TYPES: StoreType[] = ['ca', 'signingAuthority', 'tsa'];
const NAME_RE = /^[a-zA-Z0-9_.-]+$/;

const loaded = new Map<string, { stamp: string; certs: X509Certificate[] }>();

async function storeStamp(dir: string): Promise<string | null> {
  try {
    const st = await lstat(dir);
    const parts = [`${st.mtimeMs}`];
    for (const e of await readdir(dir)) {
      const f = await lstat(join(dir, e));
      parts.push(`${e}:${f.size}:${f.mtimeMs}:${f.mode}`);
    }
    return parts.join('|');
  } catch {
    return null;
  }
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

  constructor(root: string = join(signetHome(), 'truststore')) {
    this.root = root;
  }

  private async x509Dir(): Promise<string> {
    for (const candidate of [join(this.root, 'x509'), join(this.root, 'truststore', 'x509')]) {
      try {
        if ((await lstat(candidate)).isDirectory()) return candidate;
      } catch {
        // try the next
      }
    }
    return join(this.root, 'x509');
  }

  static checkName(type: string, name: string): void {
    if (!STORE_TYPES.includes(type as StoreType))
      throw new SignetError('USAGE', `unknown trust store type ${JSON.stringify(type)} (ca, signingAuthority or tsa)`);
    if (!NAME_RE.test(name))
      throw new SignetError('USAGE', `invalid trust store name ${JSON.stringify(name)}: [a-zA-Z0-9_.-]+`);
  }

  /** The certificates of one named store, every rule of the spec checked (notary-spec §9). */
  async getCertificates(type: StoreType, name: string): Promise<X509Certificate[]> {
    TrustStore.checkName(type, name);
    const dir = join(await this.x509Dir(), type, name);
    // Reuse a load only while the directory and every file in it are unchanged (size + mtime).
    const stamp = await storeStamp(dir);
    const cached = stamp ? loaded.get(dir) : undefined;
    if (cached && cached.stamp === stamp) return cached.certs;
    const certs = await this.load(type, name, dir);
    if (stamp) loaded.set(dir, { stamp, certs });
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
      for (const cert of parseCertificates(await readFile(p), `trust store "${name}" file ${entry.name}`)) {
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
      const certs = parseCertificates(await readFile(f), f);
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
