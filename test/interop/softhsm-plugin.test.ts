import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PluginClient, PluginSigner, installPlugin } from '../../src/plugin/index.ts';
import { createCertificate, generateKeyPair, toPem } from '../../src/pki/index.ts';
import { COSE_MEDIA_TYPE, JWS_MEDIA_TYPE, signEnvelope } from '../../src/signature/index.ts';
import { verifyEnvelope } from '../../src/trust/index.ts';
import { REPO_ROOT } from '../helpers/serve.ts';

const run = promisify(execFile);
const MODULE = '/usr/lib/softhsm/libsofthsm2.so';

describe('the PKCS#11 plugin (plugins/pkcs11) signing with keys in SoftHSM2', () => {
  let work: string;
  let home: string;
  let store: string;
  const saved = { conf: process.env.SOFTHSM2_CONF, pin: process.env.SIGNET_PKCS11_PIN };
  const subject = {
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    digest: `sha256:${'f'.repeat(64)}`,
    size: 77,
  };
  const policy = {
    version: '1.0',
    trustPolicies: [
      {
        name: 'p',
        registryScopes: ['*'],
        signatureVerification: { level: 'strict' },
        trustStores: ['ca:hsm'],
        trustedIdentities: ['x509.subject: CN=hsm,O=Signet Test,ST=WA,C=US'],
      },
    ],
  };
  const tool = (args: string[]) => run('pkcs11-tool', ['--module', MODULE, '--token-label', 'signet', ...args]);

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'signet-softhsm-'));
    home = join(work, 'home');
    await mkdir(join(work, 'tokens'));
    await writeFile(join(work, 'softhsm2.conf'), `directories.tokendir = ${join(work, 'tokens')}\n`);
    process.env.SOFTHSM2_CONF = join(work, 'softhsm2.conf');
    process.env.SIGNET_PKCS11_PIN = '123456';
    await run('softhsm2-util', [
      '--init-token',
      '--free',
      '--label',
      'signet',
      '--pin',
      '123456',
      '--so-pin',
      '654321',
    ]);
    // keys made inside the token; only their public halves come out
    await tool([
      '--login',
      '--pin',
      '123456',
      '--keypairgen',
      '--key-type',
      'EC:prime256v1',
      '--label',
      'ec',
      '--id',
      '01',
    ]);
    await tool([
      '--login',
      '--pin',
      '123456',
      '--keypairgen',
      '--key-type',
      'rsa:3072',
      '--label',
      'rsa',
      '--id',
      '02',
    ]);
    const ca = generateKeyPair('ecdsa-p384');
    const root = await createCertificate({
      subject: 'CN=HSM Test Root,O=Signet Test,ST=WA,C=US',
      publicKey: ca.publicKey,
      signingKey: ca.privateKey,
      ca: true,
    });
    for (const id of ['01', '02']) {
      await tool(['--read-object', '--type', 'pubkey', '--id', id, '-o', join(work, `${id}.der`)]);
      const pub = createPublicKey({ key: await readFile(join(work, `${id}.der`)), format: 'der', type: 'spki' });
      const leaf = await createCertificate({
        subject: 'CN=hsm,O=Signet Test,ST=WA,C=US',
        publicKey: pub,
        issuer: { cert: root, privateKey: ca.privateKey },
      });
      await writeFile(join(work, `${id}-chain.pem`), toPem([leaf, root]));
    }
    store = join(work, 'store');
    await mkdir(join(store, 'x509', 'ca', 'hsm'), { recursive: true });
    await writeFile(join(store, 'x509', 'ca', 'hsm', 'root.pem'), toPem([root]));
    await installPlugin(join(REPO_ROOT, 'plugins', 'pkcs11', 'notation-pkcs11'), { home });
  });
  afterAll(async () => {
    process.env.SOFTHSM2_CONF = saved.conf;
    process.env.SIGNET_PKCS11_PIN = saved.pin;
    if (work) await rm(work, { recursive: true, force: true });
  });

  it.each([
    ['01', 'EC P-256'],
    ['02', 'RSA-3072 (RSASSA-PSS)'],
  ])('key %s (%s): JWS and COSE signatures verify with the normal verifier', async (id) => {
    const client = await PluginClient.open('pkcs11', { home });
    const signer = new PluginSigner(client, id, { token: 'signet', chain: join(work, `${id}-chain.pem`) });
    for (const mt of [JWS_MEDIA_TYPE, COSE_MEDIA_TYPE] as const) {
      const env = await signEnvelope({ target: subject, signer }, mt);
      const r = await verifyEnvelope({
        envelope: env,
        mediaType: mt,
        subject,
        reference: `a.io/b@${subject.digest}`,
        trustPolicy: policy,
        trustStore: store,
      });
      expect(r.verified, JSON.stringify(r.results)).toBe(true);
    }
  });

  it('the private key never leaves the token, and a wrong PIN is ACCESS_DENIED', async () => {
    const listing = (await tool(['--login', '--pin', '123456', '--list-objects', '--type', 'privkey'])).stdout;
    expect(listing).toMatch(/Private Key Object; EC[\s\S]*Access:.*sensitive.*never extractable/);
    // an attempt to read it out yields no key material
    await tool([
      '--login',
      '--pin',
      '123456',
      '--read-object',
      '--type',
      'privkey',
      '--id',
      '01',
      '-o',
      join(work, 'priv.der'),
    ]).catch(() => undefined);
    const out = await readFile(join(work, 'priv.der')).catch(() => Buffer.alloc(0));
    expect(out.length).toBe(0);
    const client = await PluginClient.open('pkcs11', { home });
    const signer = new PluginSigner(client, '01', {
      token: 'signet',
      chain: join(work, '01-chain.pem'),
      pin: '000000',
    });
    await expect(signEnvelope({ target: subject, signer }, JWS_MEDIA_TYPE)).rejects.toMatchObject({
      pluginCode: 'ACCESS_DENIED',
    });
  });
});
