import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { copy } from '../../src/copy/index.ts';
import { KeyStore } from '../../src/pki/index.ts';
import { signBlobBundle, signSigstoreBundle } from '../../src/sign/index.ts';
import { fetchManifest, RegistryTarget } from '../../src/store/index.ts';
import { verifyArtifacts, verifySigstoreBlob, type VerificationReport } from '../../src/verify/index.ts';
import { pushArtifact } from '../helpers/artifacts.ts';
import { runSignet, startServe, type Served } from '../helpers/serve.ts';
import { startSigstoreMock, type SigstoreMock } from '../helpers/sigstore-mock.ts';

const BUNDLE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
const ISSUER = 'https://token.ci.example.com';
const WHO = 'https://ci.example.com/acme/app/.ci/release.yml@refs/heads/main';

type Json = Record<string, unknown>;
const failedChecks = (r: VerificationReport) =>
  r.signatures.flatMap((s) => s.checks.filter((c) => c.outcome === 'fail').map((c) => c.name));

describe('keyless signing (Fulcio, Rekor, TSA of a private Sigstore), PEM keys, and a trusted root carried by signet copy', () => {
  let work: string;
  let serve: Served;
  let mock: SigstoreMock;
  let rootFile: string;
  let rootDigest: string;
  const env = (): Record<string, string> => ({ SIGNET_HOME: join(work, 'home') });
  const keyless = () => ({ identityToken: mock.token(WHO, ISSUER), fulcioURL: mock.url, rekorURL: mock.url });
  const image = async (repo: string, text: string) => {
    const t = new RegistryTarget({ registry: serve.host, repository: repo });
    const d = await pushArtifact(t, text, { tag: 'v1' });
    await t.close();
    return { d, ref: `${serve.host}/${repo}:v1` };
  };

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'signet-sigstore-keyless-'));
    [serve, mock] = await Promise.all([startServe(), startSigstoreMock()]);
    const root = Buffer.from(JSON.stringify(mock.trustedRoot));
    rootFile = join(work, 'trusted_root.json');
    await writeFile(rootFile, root);
    rootDigest = `sha256:${createHash('sha256').update(root).digest('hex')}`;
  }, 60_000);
  afterAll(async () => {
    await Promise.all([serve?.close(), mock?.close()]);
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('signet sign --signature-format sigstore-bundle --identity-token: a keyless referrer that signet verify accepts for the identity, and refuses for another identity or issuer', async () => {
    const { d, ref } = await image('keyless/app', 'keyless image');
    const signed = await runSignet(
      [
        'sign',
        ref,
        '--signature-format',
        'sigstore-bundle',
        '--identity-token',
        mock.token(WHO, ISSUER),
        '--fulcio-url',
        mock.url,
        '--rekor-url',
        mock.url,
        '--tsa-url',
        mock.url,
      ],
      { env: env() }
    );
    expect(signed.code, signed.stderr).toBe(0);
    expect(signed.stderr).toMatch(/keyless, logged in http:\/\/127\.0\.0\.1/);
    // stored as cosign 3 stores bundles: a v0.3 referrer with the bundle as its one layer
    const t = new RegistryTarget({ registry: serve.host, repository: 'keyless/app' });
    const [referrer] = await t.referrers(d);
    const { manifest } = await fetchManifest(t, referrer!);
    await t.close();
    expect(manifest).toMatchObject({
      artifactType: BUNDLE,
      subject: { digest: d.digest },
      annotations: { 'dev.sigstore.bundle.content': 'dsse-envelope' },
    });
    expect(referrer!.digest).toBe(signed.stdout.trim());

    const verify = (identity: string, issuer: string) =>
      runSignet(
        [
          'verify',
          ref,
          '--certificate-identity',
          identity,
          '--certificate-oidc-issuer',
          issuer,
          '--trusted-root',
          rootFile,
          '-o',
          'json',
        ],
        { env: env() }
      );
    const ok = await verify(WHO, ISSUER);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    const [r] = JSON.parse(ok.stdout) as VerificationReport[];
    expect(r!.signatures.map((s) => [s.family, s.verdict, s.signer])).toEqual([['sigstore', 'verified', WHO]]);
    const outcomes = Object.fromEntries(r!.signatures[0]!.checks.map((c) => [c.name, c.outcome]));
    expect(outcomes).toMatchObject({
      'authentic-timestamp': 'pass',
      'certificate-chain': 'pass',
      sct: 'pass',
      'transparency-log': 'pass',
      integrity: 'pass',
      'certificate-identity': 'pass',
    });
    // another identity, another issuer: the same engine through the library (no more processes)
    const refused = (identity: string, issuer: string) =>
      verifyArtifacts([ref], {
        sources: { sigstore: { identities: [{ subject: identity, issuer }], trustedRoot: rootFile } },
      }).then(([x]) => x!);
    const [who, iss] = await Promise.all([
      refused('https://ci.example.com/mallory/app/.ci/release.yml@refs/heads/main', ISSUER),
      refused(WHO, 'https://accounts.example.com'),
    ]);
    for (const bad of [who, iss]) {
      expect(bad.verdict).toBe('failed');
      expect(failedChecks(bad)).toEqual(['certificate-identity']);
    }
  }, 30_000);

  it("signet blob sign --bundle keyless with SIGSTORE_ID_TOKEN (cosign's variable); the library with Rekor v2 and a TSA", async () => {
    const file = join(work, 'release.tar.gz');
    await writeFile(file, 'release bytes');
    const out = join(work, 'release.sigstore.json');
    const signed = await runSignet(
      ['blob', 'sign', file, '--bundle', out, '--fulcio-url', mock.url, '--rekor-url', mock.url],
      { env: { ...env(), SIGSTORE_ID_TOKEN: mock.token(WHO, ISSUER) } }
    );
    expect(signed.code, signed.stderr).toBe(0);
    const bundle = JSON.parse(await readFile(out, 'utf8')) as { mediaType: string; verificationMaterial: Json };
    expect(bundle.mediaType).toBe(BUNDLE);
    expect(bundle.verificationMaterial.certificate).toBeDefined();
    expect(bundle.verificationMaterial.x509CertificateChain).toBeUndefined();
    const policy = { identities: [{ subject: WHO, issuer: ISSUER }], trustedRoot: rootFile };
    const ok = await verifySigstoreBlob(file, out, policy);
    expect(ok.verdict, JSON.stringify(ok.signatures)).toBe('verified');
    const wrong = await verifySigstoreBlob(file, out, {
      ...policy,
      identities: [{ subject: WHO, issuer: 'https://accounts.example.com' }],
    });
    expect(failedChecks(wrong)).toEqual(['certificate-identity']);

    const v2 = join(work, 'release.v2.sigstore.json');
    const r = await signBlobBundle(file, {
      output: v2,
      keyless: { ...keyless(), rekorVersion: 2, tsaURL: mock.url },
    });
    expect(r.keyless).toBe(true);
    const entry = (JSON.parse(await readFile(v2, 'utf8')) as { verificationMaterial: { tlogEntries: Json[] } })
      .verificationMaterial.tlogEntries[0]!;
    expect(entry.kindVersion).toEqual({ kind: 'hashedrekord', version: '0.0.2' });
    expect((await verifySigstoreBlob(file, v2, policy)).verdict).toBe('verified');
  }, 30_000);

  it('keyless flags are checked: a key and a token together, a Fulcio URL without a token', async () => {
    const [both, url] = await Promise.all([
      runSignet(['blob', 'sign', rootFile, '--bundle', join(work, 'x.json'), '--key', 'k', '--identity-token', 't'], {
        env: env(),
      }),
      runSignet(['sign', 'localhost:1/x:v1', '--signature-format', 'sigstore-bundle', '--fulcio-url', mock.url], {
        env: env(),
      }),
    ]);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/not both/);
    expect(url.code).toBe(2);
    expect(url.stderr).toMatch(/apply to keyless signing/);
  }, 20_000);

  it('--key takes a PEM private key file (PKCS#8, SEC1 EC, RSA) in sign and blob sign; verify --key takes a Signet key name', async () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const sec1 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const files = {
      'pkcs8.pem': ec.privateKey.export({ type: 'pkcs8', format: 'pem' }),
      'sec1.pem': sec1.privateKey.export({ type: 'sec1', format: 'pem' }),
      'rsa.pem': rsa.privateKey.export({ type: 'pkcs1', format: 'pem' }),
      'enc.pem': ec.privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' }),
    };
    for (const [name, pem] of Object.entries(files)) await writeFile(join(work, name), pem);
    const pub = (k: typeof ec) => Buffer.from(k.publicKey.export({ type: 'spki', format: 'pem' }) as string);
    const blob = join(work, 'pem-blob.txt');
    await writeFile(blob, 'signed with a PEM key');
    const cases: Array<[string, typeof ec, string?]> = [
      ['pkcs8.pem', ec],
      ['sec1.pem', sec1],
      ['rsa.pem', rsa],
      ['enc.pem', ec, 'pw'],
    ];
    for (const [name, pair, passphrase] of cases) {
      const out = join(work, `${name}.bundle.json`);
      await signBlobBundle(blob, { output: out, key: join(work, name), ...(passphrase ? { passphrase } : {}) });
      const ok = await verifySigstoreBlob(blob, out, { keys: [pub(pair)] });
      expect(ok.verdict, name).toBe('verified');
      const other = await verifySigstoreBlob(blob, out, { keys: [pub(rsa === pair ? ec : rsa)] });
      expect(failedChecks(other), name).toEqual(['authenticity']);
    }
    await expect(signBlobBundle(blob, { output: join(work, 'x.json'), key: join(work, 'enc.pem') })).rejects.toThrow(
      /passphrase/
    );

    // the CLI: sign an image with a PEM file (relative to the working directory), verify with its public key
    const { ref } = await image('pem/app', 'pem-signed image');
    await writeFile(join(work, 'pkcs8.pub'), pub(ec));
    const signed = await runSignet(['sign', ref, '--signature-format', 'sigstore-bundle', '--key', 'pkcs8.pem'], {
      env: env(),
      cwd: work,
    });
    expect(signed.code, signed.stderr).toBe(0);
    const [verified] = await verifyArtifacts([ref], { sources: { sigstore: { keys: [join(work, 'pkcs8.pub')] } } });
    expect(verified!.verdict).toBe('verified');

    // verify --key takes a Signet key name as sign does (its public key from the key store)
    const store = new KeyStore(join(work, 'home'));
    const bundler = await store.generate('bundler', { type: 'ecdsa-p256', subject: 'CN=bundler,O=T,ST=WA,C=US' });
    const named = await image('pem/named', 'named-key image');
    await signSigstoreBundle(named.ref, bundler.privateKey);
    const byName = await runSignet(['verify', named.ref, '--key', 'bundler'], { env: env() });
    expect(byName.code, byName.stdout + byName.stderr).toBe(0);
    const [byOther] = await verifyArtifacts([named.ref], { sources: { sigstore: { keys: [pub(ec)] } } });
    expect(failedChecks(byOther!)).toEqual(['authenticity']);
  }, 40_000);

  it('signet copy --trusted-root carries the root into a layout; offline verification uses it only by its pinned digest', async () => {
    const { ref } = await image('airgap/app', 'air-gapped image');
    await signSigstoreBundle(ref, { keyless: { ...keyless(), tsaURL: mock.url } });
    const layout = join(work, 'airgap');
    const copied = await runSignet(['copy', ref, `oci:${layout}:v1`, '--trusted-root', rootFile], { env: env() });
    expect(copied.code, copied.stderr).toBe(0);
    expect(copied.stdout).toContain(`Sigstore trusted root ${rootDigest} (tag sigstore-trusted-root)`);
    const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as {
      manifests: Array<{ artifactType?: string; annotations?: Record<string, string> }>;
    };
    const carried = index.manifests.find(
      (m) => m.annotations?.['org.opencontainers.image.ref.name'] === 'sigstore-trusted-root'
    );
    expect(carried).toBeDefined();

    const writePolicy = async (file: string, sigstore: Json, dir = layout) => {
      await writeFile(
        join(work, file),
        JSON.stringify({
          version: '1.0',
          trustPolicies: [
            {
              name: 'airgap',
              registryScopes: [`oci:${dir}`],
              signatureVerification: { level: 'strict' },
              sigstore,
            },
          ],
        })
      );
      return join(work, file);
    };
    const policy = async (file: string, sigstore: Json) =>
      runSignet(
        ['verify', `oci:${layout}:v1`, '--policy', await writePolicy(file, sigstore), '--offline', '-o', 'json'],
        {
          env: env(),
        }
      );
    const identities = [{ subject: WHO, issuer: ISSUER }];
    const ok = await policy('pinned.json', { identities, trustedRootDigest: rootDigest });
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    const [r] = JSON.parse(ok.stdout) as VerificationReport[];
    expect(r!.requirements.map((q) => [q.name, q.satisfied])).toEqual([['trust-policy:airgap:sigstore', true]]);
    expect(r!.signatures.map((s) => [s.family, s.verdict])).toEqual([['sigstore', 'verified']]);

    // the same policy with another pin (the library: the same engine, no more processes)
    const [w] = await verifyArtifacts([`oci:${layout}:v1`], {
      sources: {
        trustPolicy: await writePolicy('wrong-pin.json', { identities, trustedRootDigest: `sha256:${'1'.repeat(64)}` }),
      },
    });
    expect(w!.verdict).toBe('failed');
    expect(w!.requirements[0]!.checks.map((c) => [c.name, c.outcome])).toEqual([['policy', 'fail']]);
    expect(w!.requirements[0]!.checks[0]!.reason).toMatch(
      new RegExp(`is ${rootDigest}, not the pinned trustedRootDigest sha256:1{64}`)
    );

    // a layout without a carried root: the pin finds nothing to trust
    const bare = join(work, 'bare');
    await copy(ref, `oci:${bare}:v1`);
    const [n] = await verifyArtifacts([`oci:${bare}:v1`], {
      sources: { trustPolicy: await writePolicy('bare.json', { identities, trustedRootDigest: rootDigest }, bare) },
    });
    expect(n!.verdict).toBe('failed');
    expect(n!.requirements[0]!.checks.map((c) => [c.name, c.outcome])).toEqual([['policy', 'fail']]);
    expect(n!.requirements[0]!.checks[0]!.reason).toMatch(/no trusted root is carried/);
  }, 40_000);
});
