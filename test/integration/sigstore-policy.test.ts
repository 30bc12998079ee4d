import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { attachSigstoreBundle, cosignStatement, signSigstoreBundle } from '../../src/sign/index.ts';
import { RegistryTarget } from '../../src/store/index.ts';
import type { VerificationReport } from '../../src/verify/index.ts';
import { pushArtifact } from '../helpers/artifacts.ts';
import { runSignet, startServe, type Served } from '../helpers/serve.ts';
import { startSigstoreMock, type SigstoreMock } from '../helpers/sigstore-mock.ts';

const ISSUER = 'https://issuer.example.com';
const WHO = 'release@example.com';

describe('a trust policy "sigstore" statement: Sigstore bundles under the statement scope, no CLI flags', () => {
  let work: string;
  let serve: Served;
  let mock: SigstoreMock;
  let rootDigest: string;
  const env = (): Record<string, string> => ({ SIGNET_HOME: join(work, 'home') });
  const policy = async (file: string, sigstore: Record<string, unknown>, scope: string) =>
    writeFile(
      join(work, file),
      JSON.stringify({
        version: '1.0',
        trustPolicies: [
          { name: 'bundles', registryScopes: [scope], signatureVerification: { level: 'strict' }, sigstore },
        ],
      })
    );

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'signet-sigstore-policy-'));
    [serve, mock] = await Promise.all([startServe(), startSigstoreMock()]);
    const root = Buffer.from(JSON.stringify(mock.trustedRoot));
    await writeFile(join(work, 'trusted_root.json'), root);
    rootDigest = `sha256:${createHash('sha256').update(root).digest('hex')}`;
  }, 60_000);
  afterAll(async () => {
    await Promise.all([serve?.close(), mock?.close()]);
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('keyless: the policy alone verifies; a wrong identity fails naming certificate-identity; another root digest fails naming policy', async () => {
    const t = new RegistryTarget({ registry: serve.host, repository: 'pol/app' });
    const d = await pushArtifact(t, 'policy image', { tag: 'v1' });
    const bundle = await mock.sign(cosignStatement(d.digest), {
      subject: WHO,
      issuer: ISSUER,
      dsse: 'application/vnd.in-toto+json',
    });
    await attachSigstoreBundle(t, d, bundle);
    await t.close();
    const scope = `${serve.host}/pol/app`;
    const ref = `${scope}:v1`;
    const verify = (file: string) =>
      runSignet(['verify', ref, '--policy', join(work, file), '-o', 'json'], { env: env() });
    // relative paths are relative to the policy file
    await policy(
      'ok.json',
      {
        identities: [{ subjectRegExp: '.*@example\\.com', issuer: ISSUER }],
        trustedRoot: 'trusted_root.json',
        trustedRootDigest: rootDigest,
      },
      scope
    );
    const ok = await verify('ok.json');
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    const [r] = JSON.parse(ok.stdout) as VerificationReport[];
    expect(r!.requirements.map((q) => [q.name, q.satisfied])).toEqual([['trust-policy:bundles:sigstore', true]]);
    expect(r!.signatures.map((s) => [s.family, s.verdict, s.signer])).toEqual([['sigstore', 'verified', WHO]]);

    await policy(
      'wrong.json',
      { identities: [{ subject: 'mallory@example.com', issuer: ISSUER }], trustedRoot: 'trusted_root.json' },
      scope
    );
    const wrong = await verify('wrong.json');
    expect(wrong.code).toBe(1);
    const [w] = JSON.parse(wrong.stdout) as VerificationReport[];
    const failed = w!.signatures[0]!.checks.filter((c) => c.outcome === 'fail');
    expect(failed.map((c) => c.name)).toEqual(['certificate-identity']);
    expect(failed[0]!.reason).toMatch(/release@example.com from https:\/\/issuer.example.com matches none of/);

    await policy(
      'digest.json',
      {
        identities: [{ subject: WHO, issuer: ISSUER }],
        trustedRoot: 'trusted_root.json',
        trustedRootDigest: `sha256:${'0'.repeat(64)}`,
      },
      scope
    );
    const pinned = await verify('digest.json');
    expect(pinned.code).toBe(1);
    const [p] = JSON.parse(pinned.stdout) as VerificationReport[];
    expect(p!.requirements[0]!.checks.map((c) => [c.name, c.outcome])).toEqual([['policy', 'fail']]);
    expect(p!.requirements[0]!.checks[0]!.reason).toMatch(/not the pinned trustedRootDigest/);

    // another repository: the statement does not apply
    await policy(
      'other.json',
      { identities: [{ subject: WHO, issuer: ISSUER }], trustedRoot: 'trusted_root.json' },
      `${serve.host}/other/app`
    );
    const other = await verify('other.json');
    expect(other.code).toBe(1);
    expect(other.stdout).toMatch(/no applicable trust policy statement/);
  }, 40_000);

  it('keys: a bundle Signet signs with a key verifies under a statement naming its PEM; another key fails', async () => {
    const t = new RegistryTarget({ registry: serve.host, repository: 'pol/keyed' });
    await pushArtifact(t, 'keyed image', { tag: 'v1' });
    await t.close();
    const ref = `${serve.host}/pol/keyed:v1`;
    const signer = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await signSigstoreBundle(ref, signer.privateKey);
    await writeFile(join(work, 'signer.pub'), signer.publicKey.export({ type: 'spki', format: 'pem' }));
    await writeFile(join(work, 'other.pub'), other.publicKey.export({ type: 'spki', format: 'pem' }));
    await policy('keyed.json', { keys: ['signer.pub'] }, `${serve.host}/pol/keyed`);
    const ok = await runSignet(['verify', ref, '--policy', join(work, 'keyed.json')], { env: env() });
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    await policy('keyed-other.json', { keys: ['other.pub'] }, `${serve.host}/pol/keyed`);
    const bad = await runSignet(['verify', ref, '--policy', join(work, 'keyed-other.json')], { env: env() });
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/authenticity check failed/);
  }, 40_000);

  it("a containers policy.json sigstoreSigned with fulcio and rekorPublicKeyPath (podman's keyless form) verifies a keyless bundle; another email fails; SCTs it cannot check fail closed", async () => {
    const t = new RegistryTarget({ registry: serve.host, repository: 'pol/podman' });
    const d = await pushArtifact(t, 'podman keyless image', { tag: 'v1' });
    const withSct = await pushArtifact(t, 'podman keyless image with SCTs', { tag: 'v2' });
    const signFor = (digest: string, noSct: boolean) =>
      mock.sign(cosignStatement(digest), { subject: WHO, issuer: ISSUER, dsse: 'application/vnd.in-toto+json', noSct });
    await attachSigstoreBundle(t, d, await signFor(d.digest, true));
    await attachSigstoreBundle(t, withSct, await signFor(withSct.digest, false));
    await t.close();
    // the Fulcio CA (one without a CT log) and the Rekor key of the mock, as files: what podman users configure
    const root = mock.trustedRoot as { tlogs: Array<{ publicKey: { rawBytes: string } }> };
    const pem = (label: string, b64: string) =>
      `-----BEGIN ${label}-----\n${b64.match(/.{1,64}/g)!.join('\n')}\n-----END ${label}-----\n`;
    await writeFile(join(work, 'fulcio.pem'), pem('CERTIFICATE', Buffer.from(mock.noSctCa).toString('base64')));
    await writeFile(join(work, 'rekor.pub'), pem('PUBLIC KEY', root.tlogs[0]!.publicKey.rawBytes));
    const containers = async (file: string, subjectEmail: string) =>
      writeFile(
        join(work, file),
        JSON.stringify({
          default: [{ type: 'reject' }],
          transports: {
            docker: {
              [`${serve.host}/pol/podman`]: [
                {
                  type: 'sigstoreSigned',
                  fulcio: { caPath: 'fulcio.pem', oidcIssuer: ISSUER, subjectEmail },
                  rekorPublicKeyPath: 'rekor.pub',
                  signedIdentity: { type: 'matchRepository' },
                },
              ],
            },
          },
        })
      );
    await containers('podman-ok.json', WHO);
    const verify = (tag: string, file: string) =>
      runSignet(['verify', `${serve.host}/pol/podman:${tag}`, '--containers-policy', join(work, file), '-o', 'json'], {
        env: env(),
      });
    const ok = await verify('v1', 'podman-ok.json');
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    const [r] = JSON.parse(ok.stdout) as VerificationReport[];
    expect(r!.signatures.find((x) => x.family === 'sigstore')!.checks.map((c) => [c.name, c.outcome])).toEqual(
      expect.arrayContaining([
        ['certificate-chain', 'pass'],
        ['sct', 'skipped'],
        ['transparency-log', 'pass'],
        ['certificate-identity', 'pass'],
      ])
    );
    await containers('podman-other.json', 'someone@example.com');
    const bad = await verify('v1', 'podman-other.json');
    expect(bad.code, bad.stdout + bad.stderr).toBe(1);
    expect(bad.stdout).toMatch(/"certificate-identity",\s*"outcome": "fail"/);
    // a certificate from another CA carrying SCTs: not this CA, and no CT log key to check the SCTs with
    const sct = await verify('v2', 'podman-ok.json');
    expect(sct.code, sct.stdout + sct.stderr).toBe(1);
  }, 40_000);
});
