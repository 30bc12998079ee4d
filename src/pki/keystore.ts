import { createPrivateKey, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SignetError, signetHome, writeFileAtomic } from '../util/index.ts';
import { createCertificate, generateKeyPair, type KeyType } from './create.ts';
import { parseCertificates, toPem } from './x509.ts';

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

interface KeyEntry {
  name: string;
  keyPath?: string;
  certPath?: string;
  /** Plugin-held keys (the plugin work fills these in). */
  id?: string;
  pluginName?: string;
  pluginConfig?: Record<string, string>;
  /** An OpenPGP key (containers simple signing) rather than an X.509 one. */
  gpg?: boolean;
}

interface SigningKeys {
  default?: string;
  keys: KeyEntry[];
}

export interface StoredKey {
  name: string;
  privateKey: KeyObject;
  /** Leaf first. */
  chain: X509Certificate[];
}

/** OpenPGP key types (containers simple signing, signed layouts); KEY_TYPES are the X.509 ones. */
export type GpgKeyType = 'gpg-rsa4096' | 'gpg-ed25519';

/** What `signet key show` prints: everything the key store knows of a key, no private material. */
export type KeyDescription =
  | (KeyDescriptionBase & { kind: 'x509'; keyPath: string; certPath: string; chain: X509Certificate[] })
  | (KeyDescriptionBase & { kind: 'plugin'; plugin: string; id: string; pluginConfig: Record<string, string> })
  | (KeyDescriptionBase & { kind: 'gpg'; keyPath: string; fingerprint: string; userIds: string[] });

interface KeyDescriptionBase {
  name: string;
  isDefault: boolean;
}

export interface KeySummary {
  name: string;
  isDefault: boolean;
  keyPath?: string;
  certPath?: string;
  subject?: string;
  keySpec?: string;
  notAfter?: string;
  ca?: boolean;
  /** For plugin-held keys: the plugin and key id. */
  plugin?: string;
}

/**
 * Signing keys under `$SIGNET_HOME`, laid out like notation's: `keys/<name>.key` (PKCS#8 PEM,
 * mode 0600, optionally encrypted), `keys/<name>.crt` (chain PEM, leaf first) and
 * `signingkeys.json` naming them and the default.
 */
export class KeyStore {
  readonly home: string;
  constructor(home: string = signetHome()) {
    this.home = home;
  }

  private get indexPath(): string {
    return join(this.home, 'signingkeys.json');
  }

  private async readIndex(): Promise<SigningKeys> {
    try {
      const j = JSON.parse(await readFile(this.indexPath, 'utf8')) as SigningKeys;
      return { ...j, keys: j.keys ?? [] };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { keys: [] };
      throw new SignetError('STATE_CORRUPT', `${this.indexPath} is not valid JSON: ${(err as Error).message}`);
    }
  }

  private async writeIndex(index: SigningKeys): Promise<void> {
    await mkdir(this.home, { recursive: true, mode: 0o700 });
    await writeFileAtomic(this.indexPath, `${JSON.stringify(index, null, 2)}\n`, { mode: 0o600 });
  }

  private static checkName(name: string): void {
    if (!NAME_RE.test(name))
      throw new SignetError('USAGE', `invalid key name ${JSON.stringify(name)}: letters, digits, '.', '_' and '-'`);
  }

  private async save(
    name: string,
    privateKey: KeyObject,
    chain: X509Certificate[],
    opts: { passphrase?: string; isDefault?: boolean; overwrite?: boolean }
  ): Promise<void> {
    KeyStore.checkName(name);
    const index = await this.readIndex();
    if (!opts.overwrite && index.keys.some((k) => k.name === name))
      throw new SignetError('KEY_EXISTS', `a key named ${name} already exists (delete it first)`);
    const dir = join(this.home, 'keys');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const keyPath = join(dir, `${name}.key`);
    const certPath = join(dir, `${name}.crt`);
    const pem = opts.passphrase
      ? privateKey.export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: opts.passphrase })
      : privateKey.export({ format: 'pem', type: 'pkcs8' });
    await writeFile(keyPath, pem, { mode: 0o600 });
    await chmod(keyPath, 0o600);
    await writeFile(certPath, toPem(chain), { mode: 0o644 });
    index.keys = index.keys.filter((k) => k.name !== name);
    index.keys.push({ name, keyPath, certPath });
    if (opts.isDefault || !index.default) index.default = name;
    await this.writeIndex(index);
  }

  /** Generates a key and its certificate: self-signed, or issued by another local CA key. */
  async generate(
    name: string,
    opts: {
      type: KeyType;
      subject?: string;
      issuer?: string;
      ca?: boolean;
      pathLength?: number;
      isDefault?: boolean;
      passphrase?: string;
      issuerPassphrase?: string;
      validityDays?: number;
    }
  ): Promise<StoredKey> {
    KeyStore.checkName(name);
    if ((await this.readIndex()).keys.some((k) => k.name === name))
      throw new SignetError('KEY_EXISTS', `a key named ${name} already exists (delete it first)`);
    const pair = generateKeyPair(opts.type);
    const subject = opts.subject ?? `CN=${name},O=Signet,ST=WA,C=US`;
    const notBefore = new Date(Date.now() - 60_000);
    const notAfter = new Date(notBefore.getTime() + (opts.validityDays ?? (opts.ca ? 3650 : 365)) * 86_400_000);
    let chain: X509Certificate[];
    if (opts.issuer) {
      const issuer = await this.get(opts.issuer, opts.issuerPassphrase);
      if (!issuer.chain[0]!.ca)
        throw new SignetError(
          'USAGE',
          `key ${opts.issuer} is not a CA key (one generated as a CA can issue certificates)`
        );
      const cert = await createCertificate({
        subject,
        publicKey: pair.publicKey,
        issuer: { cert: issuer.chain[0]!, privateKey: issuer.privateKey },
        ca: Boolean(opts.ca),
        ...(opts.pathLength !== undefined ? { pathLength: opts.pathLength } : {}),
        notBefore,
        notAfter,
      });
      chain = [cert, ...issuer.chain];
    } else {
      chain = [
        await createCertificate({
          subject,
          publicKey: pair.publicKey,
          signingKey: pair.privateKey,
          ca: Boolean(opts.ca),
          ...(opts.pathLength !== undefined ? { pathLength: opts.pathLength } : {}),
          notBefore,
          notAfter,
        }),
      ];
    }
    await this.save(name, pair.privateKey, chain, opts);
    return { name, privateKey: pair.privateKey, chain };
  }

  /** Imports a PKCS#8/PEM key with its chain (leaf first); the key must match the leaf. */
  async import(
    name: string,
    opts: { keyPem: string; chainPem: string; passphrase?: string; isDefault?: boolean }
  ): Promise<StoredKey> {
    let privateKey: KeyObject;
    try {
      privateKey = createPrivateKey(opts.passphrase ? { key: opts.keyPem, passphrase: opts.passphrase } : opts.keyPem);
    } catch (err) {
      throw new SignetError(
        'KEY_INVALID',
        `the key cannot be read${opts.passphrase ? '' : ' (encrypted? pass its passphrase)'}: ${(err as Error).message}`
      );
    }
    const chain = parseCertificates(opts.chainPem, 'certificate chain');
    if (chain.length === 0) throw new SignetError('CERT_FILE_INVALID', 'the certificate file holds no certificate');
    const pub = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
    if (!Buffer.from(pub).equals(Buffer.from(chain[0]!.publicKey.export({ format: 'der', type: 'spki' })))) {
      throw new SignetError('KEY_MISMATCH', 'the private key does not belong to the first certificate of the chain');
    }
    await this.save(name, privateKey, chain, {
      isDefault: opts.isDefault ?? false,
      ...(opts.passphrase ? { passphrase: opts.passphrase } : {}),
    });
    return { name, privateKey, chain };
  }

  async list(): Promise<KeySummary[]> {
    const index = await this.readIndex();
    const out: KeySummary[] = [];
    for (const k of index.keys) {
      const s: KeySummary = { name: k.name, isDefault: index.default === k.name };
      if (k.pluginName) s.plugin = `${k.pluginName} (key id ${k.id})`;
      if (k.gpg) s.keySpec = 'OpenPGP';
      if (k.keyPath) s.keyPath = k.keyPath;
      if (k.certPath) {
        s.certPath = k.certPath;
        try {
          const leaf = parseCertificates(await readFile(k.certPath), k.certPath)[0]!;
          s.subject = leaf.subject.split('\n').reverse().join(', ');
          s.notAfter = new Date(leaf.validTo).toISOString();
          s.ca = leaf.ca;
          const d = leaf.publicKey.asymmetricKeyDetails;
          s.keySpec = leaf.publicKey.asymmetricKeyType === 'rsa' ? `RSA-${d?.modulusLength}` : `EC-${d?.namedCurve}`;
        } catch {
          // listed anyway; `key show` reports the problem
        }
      }
      out.push(s);
    }
    return out;
  }

  async defaultName(): Promise<string | undefined> {
    return (await this.readIndex()).default;
  }

  /** Loads a key and its chain (default key when no name is given). */
  async get(name?: string, passphrase?: string): Promise<StoredKey> {
    const index = await this.readIndex();
    const wanted = name ?? index.default;
    if (!wanted)
      throw new SignetError(
        'KEY_NOT_FOUND',
        'no key given and no default key (generate or import one as the default key)'
      );
    const entry = index.keys.find((k) => k.name === wanted);
    if (!entry || !entry.keyPath || !entry.certPath)
      throw new SignetError('KEY_NOT_FOUND', `no local key named ${wanted} (signet key list)`);
    const pem = await readFile(entry.keyPath, 'utf8');
    let privateKey: KeyObject;
    try {
      privateKey = createPrivateKey(passphrase ? { key: pem, passphrase } : pem);
    } catch (err) {
      throw new SignetError(
        'KEY_INVALID',
        `key ${wanted} cannot be read${pem.includes('ENCRYPTED') && !passphrase ? ': it is encrypted (give its passphrase)' : `: ${(err as Error).message}`}`
      );
    }
    const chain = parseCertificates(await readFile(entry.certPath), entry.certPath);
    return { name: wanted, privateKey, chain };
  }

  /** A new OpenPGP key for containers simple signing (gpg-rsa4096 or gpg-ed25519). */
  async generateGpg(
    name: string,
    opts: { type: GpgKeyType; userId?: string; isDefault?: boolean }
  ): Promise<{ fingerprint: string; publicKey: Uint8Array }> {
    KeyStore.checkName(name);
    const openpgp = await import('openpgp');
    const userIDs = [{ name: opts.userId ?? name, email: `${name}@signet.invalid` }];
    const { privateKey } =
      opts.type === 'gpg-rsa4096'
        ? await openpgp.generateKey({ type: 'rsa', rsaBits: 4096, userIDs, format: 'armored' })
        : await openpgp.generateKey({ type: 'ecc', curve: 'ed25519Legacy', userIDs, format: 'armored' });
    return this.saveGpg(name, privateKey, opts.isDefault);
  }

  /** Imports an OpenPGP secret key as `gpg --export-secret-keys` writes it (armored or binary). */
  async importGpg(
    name: string,
    data: Uint8Array,
    opts: { isDefault?: boolean } = {}
  ): Promise<{ fingerprint: string; publicKey: Uint8Array }> {
    KeyStore.checkName(name);
    const openpgp = await import('openpgp');
    const text = Buffer.from(data).toString('latin1');
    let key;
    try {
      key = text.includes('-----BEGIN PGP')
        ? await openpgp.readPrivateKey({ armoredKey: text })
        : await openpgp.readPrivateKey({ binaryKey: data });
    } catch (err) {
      throw new SignetError('KEY_INVALID', `not an OpenPGP secret key: ${(err as Error).message}`);
    }
    return this.saveGpg(name, key.armor(), opts.isDefault);
  }

  private async saveGpg(
    name: string,
    armored: string,
    isDefault?: boolean
  ): Promise<{ fingerprint: string; publicKey: Uint8Array }> {
    const openpgp = await import('openpgp');
    const index = await this.readIndex();
    if (index.keys.some((k) => k.name === name))
      throw new SignetError('KEY_EXISTS', `a key named ${name} already exists (delete it first)`);
    const key = await openpgp.readPrivateKey({ armoredKey: armored });
    const dir = join(this.home, 'keys');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const keyPath = join(dir, `${name}.gpg.key`);
    await writeFile(keyPath, armored, { mode: 0o600 });
    await chmod(keyPath, 0o600);
    const publicKey = key.toPublic().write();
    await writeFile(join(dir, `${name}.gpg.pub`), publicKey);
    index.keys.push({ name, keyPath, gpg: true } as KeyEntry);
    if (isDefault || !index.default) index.default = name;
    await this.writeIndex(index);
    return { fingerprint: key.getFingerprint().toUpperCase(), publicKey };
  }

  /** The armored OpenPGP secret key of a gpg key (for simple signing). */
  async gpgKey(name?: string): Promise<{ name: string; armored: string; publicKey: Uint8Array }> {
    const index = await this.readIndex();
    const wanted = name ?? index.default;
    const e = index.keys.find((k) => k.name === wanted);
    if (!e || !e.gpg || !e.keyPath)
      throw new SignetError(
        'KEY_NOT_FOUND',
        `no OpenPGP key named ${wanted ?? '(default)'} (generate one of type gpg-ed25519 or gpg-rsa4096)`
      );
    return {
      name: e.name,
      armored: await readFile(e.keyPath, 'utf8'),
      publicKey: await readFile(e.keyPath.replace(/\.gpg\.key$/, '.gpg.pub')),
    };
  }

  /** Registers a key held by a plugin (`signet key add NAME --plugin P --id KEY_ID`). */
  async addPluginKey(
    name: string,
    opts: { id: string; pluginName: string; pluginConfig?: Record<string, string>; isDefault?: boolean }
  ): Promise<void> {
    KeyStore.checkName(name);
    const index = await this.readIndex();
    if (index.keys.some((k) => k.name === name))
      throw new SignetError('KEY_EXISTS', `a key named ${name} already exists (delete it first)`);
    index.keys.push({
      name,
      id: opts.id,
      pluginName: opts.pluginName,
      ...(opts.pluginConfig && Object.keys(opts.pluginConfig).length ? { pluginConfig: opts.pluginConfig } : {}),
    });
    if (opts.isDefault || !index.default) index.default = name;
    await this.writeIndex(index);
  }

  /** The plugin that holds a key, if the key is a plugin key (default key when no name). */
  async pluginKey(
    name?: string
  ): Promise<{ id: string; pluginName: string; pluginConfig: Record<string, string> } | undefined> {
    const index = await this.readIndex();
    const e = index.keys.find((k) => k.name === (name ?? index.default));
    return e?.pluginName && e.id
      ? { id: e.id, pluginName: e.pluginName, pluginConfig: e.pluginConfig ?? {} }
      : undefined;
  }

  /** Any key `list()` shows (local X.509, plugin-held, OpenPGP), described from the key store alone. */
  async describe(name: string): Promise<KeyDescription> {
    const index = await this.readIndex();
    const e = index.keys.find((k) => k.name === name);
    if (!e) throw new SignetError('KEY_NOT_FOUND', `no key named ${name} (signet key list)`);
    const isDefault = index.default === name;
    if (e.pluginName && e.id) {
      return { name, isDefault, kind: 'plugin', plugin: e.pluginName, id: e.id, pluginConfig: e.pluginConfig ?? {} };
    }
    if (e.gpg && e.keyPath) {
      const openpgp = await import('openpgp');
      const key = await openpgp.readKey({ binaryKey: await readFile(e.keyPath.replace(/\.gpg\.key$/, '.gpg.pub')) });
      const fingerprint = key.getFingerprint().toUpperCase();
      return { name, isDefault, kind: 'gpg', keyPath: e.keyPath, fingerprint, userIds: key.getUserIDs() };
    }
    if (!e.keyPath || !e.certPath) {
      throw new SignetError('STATE_CORRUPT', `key ${name} in ${this.indexPath} names no key files`);
    }
    const chain = parseCertificates(await readFile(e.certPath), e.certPath);
    return { name, isDefault, kind: 'x509', keyPath: e.keyPath, certPath: e.certPath, chain };
  }

  /**
   * The public key of a key: PEM SubjectPublicKeyInfo for an X.509 key (what `verify --cosign-key`
   * and other tools take), the ASCII-armored public key for an OpenPGP one. A plugin holds its key
   * and only shows it through a signature's certificate chain.
   */
  async publicKey(name: string): Promise<string> {
    const d = await this.describe(name);
    if (d.kind === 'x509') return d.chain[0]!.publicKey.export({ type: 'spki', format: 'pem' }) as string;
    if (d.kind === 'gpg') {
      const openpgp = await import('openpgp');
      return (await openpgp.readKey({ binaryKey: (await this.gpgKey(name)).publicKey })).armor();
    }
    throw new SignetError(
      'KEY_UNSUPPORTED',
      `key ${name} is held by plugin ${d.plugin}: its public key is in the certificate chain of its signatures`
    );
  }

  async certificateChain(name: string): Promise<X509Certificate[]> {
    const index = await this.readIndex();
    const entry = index.keys.find((k) => k.name === name);
    if (!entry?.certPath) throw new SignetError('KEY_NOT_FOUND', `no local key named ${name}`);
    return parseCertificates(await readFile(entry.certPath), entry.certPath);
  }

  async delete(name: string): Promise<void> {
    const index = await this.readIndex();
    const entry = index.keys.find((k) => k.name === name);
    if (!entry) throw new SignetError('KEY_NOT_FOUND', `no key named ${name}`);
    index.keys = index.keys.filter((k) => k.name !== name);
    if (index.default === name) delete index.default;
    await this.writeIndex(index);
    if (entry.keyPath) await rm(entry.keyPath, { force: true });
    if (entry.certPath) await rm(entry.certPath, { force: true });
  }
}
