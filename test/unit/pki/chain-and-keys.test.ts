import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createCertificate,
  generateKeyPair,
  KeyStore,
  toPem,
  validateCodeSigningChain,
  validateTimestampingChain,
  chainValidAt,
} from '../../../src/pki/index.ts';
import { makeChain } from '../../helpers/pki.ts';

describe('code-signing chain rules (notary-spec §7)', () => {
  it('accepts root → intermediate → leaf', async () => {
    const c = await makeChain({ intermediate: true });
    expect(() => validateCodeSigningChain(c.chain)).not.toThrow();
  });
  it('accepts a single self-signed leaf', async () => {
    const k = generateKeyPair('ecdsa-p256');
    const cert = await createCertificate({
      subject: 'CN=self,O=T,ST=WA,C=US',
      publicKey: k.publicKey,
      signingKey: k.privateKey,
    });
    expect(() => validateCodeSigningChain([cert])).not.toThrow();
  });
  it('refuses a chain that does not end with its root', async () => {
    const c = await makeChain({ intermediate: true });
    expect(() => validateCodeSigningChain(c.chain.slice(0, 2))).toThrow(/must end with a self-signed root/);
  });
  it('refuses certificates out of order', async () => {
    const c = await makeChain({ intermediate: true });
    expect(() => validateCodeSigningChain([c.chain[0]!, c.chain[2]!, c.chain[1]!])).toThrow(
      /must end with a self-signed root|self-signed but is not the last|not issued by/
    );
  });
  it('refuses an intermediate without keyCertSign', async () => {
    const root = generateKeyPair('ecdsa-p256');
    const rc = await createCertificate({
      subject: 'CN=R,O=T,ST=WA,C=US',
      publicKey: root.publicKey,
      signingKey: root.privateKey,
      ca: true,
    });
    const mid = generateKeyPair('ecdsa-p256');
    const mc = await createCertificate({
      subject: 'CN=M,O=T,ST=WA,C=US',
      publicKey: mid.publicKey,
      issuer: { cert: rc, privateKey: root.privateKey },
      ca: true,
      keyUsage: ['digitalSignature'],
    });
    const leaf = generateKeyPair('ecdsa-p256');
    const lc = await createCertificate({
      subject: 'CN=L,O=T,ST=WA,C=US',
      publicKey: leaf.publicKey,
      issuer: { cert: mc, privateKey: mid.privateKey },
    });
    expect(() => validateCodeSigningChain([lc, mc, rc])).toThrow(/keyUsage lacks keyCertSign/);
  });
  it('refuses a path length violation', async () => {
    const root = generateKeyPair('ecdsa-p256');
    const rc = await createCertificate({
      subject: 'CN=R,O=T,ST=WA,C=US',
      publicKey: root.publicKey,
      signingKey: root.privateKey,
      ca: true,
      pathLength: 0,
    });
    const mid = generateKeyPair('ecdsa-p256');
    const mc = await createCertificate({
      subject: 'CN=M,O=T,ST=WA,C=US',
      publicKey: mid.publicKey,
      issuer: { cert: rc, privateKey: root.privateKey },
      ca: true,
    });
    const leaf = generateKeyPair('ecdsa-p256');
    const lc = await createCertificate({
      subject: 'CN=L,O=T,ST=WA,C=US',
      publicKey: leaf.publicKey,
      issuer: { cert: mc, privateKey: mid.privateKey },
    });
    expect(() => validateCodeSigningChain([lc, mc, rc])).toThrow(/pathLenConstraint 0/);
  });
  it('refuses a leaf whose keyUsage is not critical', async () => {
    const c = await makeChain({ leaf: { keyUsageCritical: false } });
    expect(() => validateCodeSigningChain(c.chain)).toThrow(/keyUsage extension must be critical/);
  });
  it('TSA chains need a critical timeStamping-only EKU', async () => {
    const good = await makeChain({ leaf: { extendedKeyUsage: 'timeStamping' } });
    expect(() => validateTimestampingChain(good.chain)).not.toThrow();
    const bad = await makeChain();
    expect(() => validateTimestampingChain(bad.chain)).toThrow(/timeStamping/);
  });
  it('chainValidAt names the certificate and the period', async () => {
    const c = await makeChain({ notBefore: new Date('2030-01-01'), notAfter: new Date('2031-01-01') });
    expect(chainValidAt(c.chain, new Date('2029-06-01'))).toMatchObject({
      ok: false,
      message: expect.stringMatching(
        /before the validity period of certificate .*Test Root|before the validity period/
      ),
    });
    expect(chainValidAt(c.chain, new Date('2030-06-01')).ok).toBe(true);
  });
});

describe('key store', () => {
  let home: string;
  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'signet-keys-'));
  });
  afterAll(async () => rm(home, { recursive: true, force: true }));

  it('builds root → intermediate → leaf with --issuer; keys are 0600; the chain validates', async () => {
    const ks = new KeyStore(home);
    await ks.generate('root', { type: 'ecdsa-p384', ca: true, subject: 'CN=Root,O=T,ST=WA,C=US' });
    await ks.generate('mid', { type: 'rsa-2048', ca: true, issuer: 'root', subject: 'CN=Mid,O=T,ST=WA,C=US' });
    const leaf = await ks.generate('leaf', {
      type: 'ecdsa-p256',
      issuer: 'mid',
      subject: 'CN=Leaf,O=T,ST=WA,C=US',
      isDefault: true,
    });
    expect(leaf.chain.map((c) => c.subject.split('\n').pop())).toEqual(['CN=Leaf', 'CN=Mid', 'CN=Root']);
    expect(() => validateCodeSigningChain(leaf.chain)).not.toThrow();
    expect((await stat(join(home, 'keys', 'leaf.key'))).mode & 0o777).toBe(0o600);
    expect(await ks.defaultName()).toBe('leaf');
    const listed = await ks.list();
    expect(listed.map((k) => k.name)).toEqual(['root', 'mid', 'leaf']);
    expect(JSON.stringify(listed)).not.toMatch(/PRIVATE KEY/);
    await expect(ks.generate('bad', { type: 'ecdsa-p256', issuer: 'leaf' })).rejects.toThrow(/not a CA key/);
  });

  it('encrypted keys need their passphrase', async () => {
    const ks = new KeyStore(home);
    await ks.generate('secret', { type: 'ecdsa-p256', passphrase: 'correct horse' });
    expect(await readFile(join(home, 'keys', 'secret.key'), 'utf8')).toMatch(/ENCRYPTED PRIVATE KEY/);
    await expect(ks.get('secret')).rejects.toThrow(/encrypted/);
    expect((await ks.get('secret', 'correct horse')).chain).toHaveLength(1);
  });

  it('import refuses a key that does not belong to the certificate, and accepts the right one', async () => {
    const ks = new KeyStore(home);
    const a = generateKeyPair('ecdsa-p256');
    const b = generateKeyPair('ecdsa-p256');
    const cert = await createCertificate({
      subject: 'CN=a,O=T,ST=WA,C=US',
      publicKey: a.publicKey,
      signingKey: a.privateKey,
    });
    await writeFile(join(home, 'a.pem'), toPem([cert]));
    await expect(
      ks.import('imp', {
        keyPem: b.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string,
        chainPem: toPem([cert]),
      })
    ).rejects.toThrow(/does not belong/);
    await ks.import('imp', {
      keyPem: a.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string,
      chainPem: toPem([cert]),
    });
    expect((await ks.get('imp')).chain[0]!.fingerprint256).toBe(cert.fingerprint256);
    await ks.delete('imp');
    await expect(ks.get('imp')).rejects.toThrow(/no local key named imp/);
  });
});
