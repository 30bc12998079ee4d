import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { KeyStore, toPem } from '../../src/pki/index.ts';
import { attachSigstoreBundle, cosignStatement, sign } from '../../src/sign/index.ts';
import { RegistryTarget } from '../../src/store/index.ts';
import type { VerificationReport } from '../../src/verify/index.ts';
import { copy, discover, inspect, verify } from '../../src/index.ts';
import { pushArtifact } from '../helpers/artifacts.ts';
import { startDistribution } from '../helpers/distribution.ts';
import { cosign3KeySignArgs, peerTools } from '../helpers/peer-tools.ts';
import { runSignet, startServe, type Served } from '../helpers/serve.ts';
import { startSigstoreMock, type SigstoreMock } from '../helpers/sigstore-mock.ts';

const run = promisify(execFile);
const BUNDLE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
const ISSUER = 'https://issuer.example.com';
const WHO = 'release@example.com';

describe('Sigstore bundles as referrers: cosign 3 key-based, keyless against a private Sigstore, one report', () => {
  let work: string;
  let serve: Served;
  let mock: SigstoreMock;
  let cosign3: string;
  const env = (): Record<string, string> => ({ SIGNET_HOME: join(work, 'home') });
  const cos = (args: string[], extraEnv: Record<string, string> = {}) =>
    run(cosign3, args, {
      env: { ...process.env, COSIGN_PASSWORD: '', COSIGN_YES: 'true', HOME: work, ...extraEnv },
      cwd: work,
      timeout: 60_000,
    });
  /** cosign 3 signs `ref` with cosign.key, no log; `extraEnv` e.g. COSIGN_REPOSITORY. */
  const cosignSign = (ref: string, extraEnv: Record<string, string> = {}) => cos(cosign3KeySignArgs(ref), extraEnv);

  beforeAll(async () => {
    cosign3 = (await peerTools()).cosign3;
    work = await mkdtemp(join(tmpdir(), 'signet-sigstore-'));
    [serve, mock] = await Promise.all([startServe(), startSigstoreMock()]);
    await cos(['generate-key-pair']);
    await cos(['generate-key-pair', '--output-key-prefix', 'other']);
    await writeFile(join(work, 'trusted_root.json'), JSON.stringify(mock.trustedRoot));
    await writeFile(join(work, 'other_root.json'), JSON.stringify(mock.otherRoot));
  }, 120_000);
  afterAll(async () => {
    await Promise.all([serve?.close(), mock?.close()]);
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('what cosign 3 pushes (a DSSE v0.3 bundle referrer, no log) verifies with --key on signet serve', async () => {
    const t = new RegistryTarget({ registry: serve.host, repository: 'c3/app' });
    const d = await pushArtifact(t, 'cosign3 image', { tag: 'v1' });
    await t.close();
    const ref = `${serve.host}/c3/app@${d.digest}`;
    await cosignSign(ref);
    const ok = await runSignet(['verify', ref, '--key', join(work, 'cosign.pub'), '-o', 'json'], { env: env() });
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    const [r] = JSON.parse(ok.stdout) as VerificationReport[];
    const s = r!.signatures.find((x) => x.family === 'sigstore')!;
    expect(s.mediaType).toBe(BUNDLE);
    expect(s.verdict).toBe('verified');
    expect(s.checks.map((c) => [c.name, c.outcome])).toEqual([
      ['subject', 'pass'],
      ['authenticity', 'pass'],
      ['transparency-log', 'skipped'],
    ]);
    expect(r!.requirements).toEqual([{ name: 'sigstore', satisfied: true, by: [s.digest], checks: [] }]);
    const bad = await runSignet(['verify', ref, '--key', join(work, 'other.pub')], { env: env() });
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(
      /authenticity check failed: the bundle does not verify with any of the given public keys/
    );
  }, 60_000);

  it('bundles verify and show in ls, inspect, discover and the web view, on docker-registry (tag schema) and after copy to signet serve and a layout', async () => {
    const dist = await startDistribution();
    try {
      const t = new RegistryTarget({ registry: dist.host, repository: 'c3/shown' });
      const d = await pushArtifact(t, 'cosign3 shown everywhere', { tag: 'v1' });
      await t.close();
      await cosignSign(`${dist.host}/c3/shown@${d.digest}`);
      const copies = [`${dist.host}/c3/shown:v1`, `${serve.host}/c3/shown:v1`, `oci:${join(work, 'shown')}:v1`];
      for (const dst of copies.slice(1)) await copy(copies[0]!, dst);
      const ls = await runSignet(['ls', copies[0]!], { env: env() }); // the CLI's words, on the tag schema
      expect(ls.code, ls.stderr).toBe(0);
      expect(ls.stdout).toMatch(/sigstore sha256:[0-9a-f]{64} DSSE application\/vnd\.in-toto\+json by key/);
      for (const ref of copies) {
        const ins = await inspect(ref);
        expect(ins.otherSignatures.filter((o) => o.family === 'sigstore').map((o) => o.bundle?.content)).toEqual([
          'DSSE application/vnd.in-toto+json',
        ]);
        const v = await verify(ref, { sources: { sigstore: { keys: [join(work, 'cosign.pub')] }, defaults: false } });
        expect(v.verdict, `${ref}: ${JSON.stringify(v.signatures)}`).toBe('verified');
        const tree = await discover(ref, { artifactType: BUNDLE });
        expect(
          tree.tree.referrers.map((r) => r.artifactType),
          ref
        ).toEqual([BUNDLE]);
      }
      const page = await fetch(`http://${serve.host}/ui/artifact?repo=c3/shown&digest=${d.digest}`);
      const html = await page.text();
      expect(html).toContain('Sigstore bundle');
      const bundleDigest = /ui\/envelope\?repo=c3%2Fshown(?:&#38;|&amp;|&)digest=(sha256%3A[0-9a-f]{64})/.exec(
        html
      )?.[1];
      expect(bundleDigest, html).toBeDefined();
      const env2 = await (
        await fetch(`http://${serve.host}/ui/envelope?repo=c3/shown&digest=${decodeURIComponent(bundleDigest!)}`)
      ).text();
      expect(env2).toContain('Bundle (decoded, not verified)');
      expect(env2).toContain('transparency log entries');
    } finally {
      await dist.close();
    }
  }, 90_000);

  it("bundles in another repository (cosign's COSIGN_REPOSITORY) count only when the statement names it", async () => {
    const t = new RegistryTarget({ registry: serve.host, repository: 'c3/elsewhere' });
    const d = await pushArtifact(t, 'image whose bundles live elsewhere', { tag: 'v1' });
    await t.close();
    const ref = `${serve.host}/c3/elsewhere@${d.digest}`;
    const sigs = `${serve.host}/c3/signatures`;
    await cosignSign(ref, { COSIGN_REPOSITORY: sigs });
    const beside = await runSignet(['verify', ref, '--key', join(work, 'cosign.pub')], { env: env() });
    expect(beside.code, beside.stdout + beside.stderr).toBe(1); // nothing beside the image
    const policy = join(work, 'elsewhere-policy.json');
    const statement = (repository?: string) => ({
      name: 'elsewhere',
      registryScopes: [`${serve.host}/c3/elsewhere`],
      signatureVerification: { level: 'strict' },
      trustStores: [],
      trustedIdentities: [],
      sigstore: { keys: [join(work, 'cosign.pub')], ...(repository ? { repository } : {}) },
    });
    await writeFile(policy, JSON.stringify({ version: '1.0', trustPolicies: [statement(sigs)] }));
    const ok = await runSignet(['verify', ref, '--policy', policy], { env: env() });
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(new RegExp(`sigstore sha256:[0-9a-f]{64} \\(referrers in ${sigs}\\).*: verified`));
    await writeFile(policy, JSON.stringify({ version: '1.0', trustPolicies: [statement()] }));
    const without = await runSignet(['verify', ref, '--policy', policy], { env: env() });
    expect(without.code, without.stdout + without.stderr).toBe(1);
    // signet copy --referrers-from carries them beside the copy, where they are its own referrers
    const layout = `oci:${join(work, 'elsewhere-layout')}:v1`;
    await copy(ref, layout, { referrersFrom: [sigs] });
    const there = await runSignet(['verify', layout, '--key', join(work, 'cosign.pub')], { env: env() });
    expect(there.code, there.stdout + there.stderr).toBe(0);
  }, 60_000);

  it("on docker-registry (no referrers API): cosign 3's tag-schema index (entries typed as empty) is read by the manifest's own type", async () => {
    const dist = await startDistribution();
    try {
      const t = new RegistryTarget({ registry: dist.host, repository: 'c3/app' });
      const d = await pushArtifact(t, 'cosign3 tag schema', { tag: 'v1' });
      const ref = `${dist.host}/c3/app@${d.digest}`;
      await cosignSign(ref);
      expect(await t.tags()).toContain(`sha256-${d.digest.slice(7)}`);
      await t.close();
      const ok = await runSignet(['verify', ref, '--key', join(work, 'cosign.pub')], { env: env() });
      expect(ok.code, ok.stdout + ok.stderr).toBe(0);
      expect(ok.stdout).toMatch(/sigstore sha256:[0-9a-f]{64} .*: verified/);
    } finally {
      await dist.close();
    }
  }, 60_000);

  it('keyless bundle and Notary signature on one image: one -o json report lists both; wrong identity/issuer, other root, other digest are named', async () => {
    const t = new RegistryTarget({ registry: serve.host, repository: 'team/app' });
    const d = await pushArtifact(t, 'keyless image', { tag: 'v1' });
    const other = await pushArtifact(t, 'another image', { tag: 'v2' });
    const bundle = await mock.sign(cosignStatement(d.digest), {
      subject: WHO,
      issuer: ISSUER,
      dsse: 'application/vnd.in-toto+json',
    });
    await attachSigstoreBundle(t, d, bundle);
    // the same bundle attached to another image: its statement names the first digest
    await attachSigstoreBundle(t, other, bundle);
    await t.close();
    const ref = `${serve.host}/team/app:v1`;
    const keys = new KeyStore(join(work, 'home'));
    const root = await keys.generate('root', { type: 'ecdsa-p256', ca: true, subject: 'CN=Root,O=T,ST=WA,C=US' });
    await keys.generate('release', { type: 'ecdsa-p256', issuer: 'root', subject: 'CN=release,O=T,ST=WA,C=US' });
    await sign(ref, { keyStore: keys, key: 'release' });
    const store = join(work, 'store');
    await mkdir(join(store, 'x509', 'ca', 'rel'), { recursive: true });
    await writeFile(join(store, 'x509', 'ca', 'rel', 'root.pem'), toPem([root.chain[0]!]));
    const policy = join(work, 'trustpolicy.json');
    await writeFile(
      policy,
      JSON.stringify({
        version: '1.0',
        trustPolicies: [
          {
            name: 'team',
            registryScopes: [`${serve.host}/team/app`],
            signatureVerification: { level: 'strict' },
            trustStores: ['ca:rel'],
            trustedIdentities: ['x509.subject: CN=release,O=T,ST=WA,C=US'],
          },
        ],
      })
    );
    const keyless = (id: string, issuer: string, rootFile = 'trusted_root.json') => [
      '--policy',
      policy,
      '--trust-store',
      store,
      '--certificate-identity',
      id,
      '--certificate-oidc-issuer',
      issuer,
      '--trusted-root',
      join(work, rootFile),
    ];
    const ok = await runSignet(['verify', ref, ...keyless(WHO, ISSUER), '-o', 'json'], { env: env() });
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    const [r] = JSON.parse(ok.stdout) as VerificationReport[];
    expect(r!.signatures.map((s) => [s.family, s.verdict]).sort()).toEqual([
      ['notary', 'verified'],
      ['sigstore', 'verified'],
    ]);
    const s = r!.signatures.find((x) => x.family === 'sigstore')!;
    expect(s.signer).toBe(WHO);
    expect(s.checks.map((c) => c.name)).toEqual([
      'subject',
      'authentic-timestamp',
      'certificate-chain',
      'sct',
      'transparency-log',
      'integrity',
      'certificate-identity',
    ]);
    expect(r!.requirements.map((q) => [q.name, q.satisfied])).toEqual([
      ['trust-policy:team', true],
      ['sigstore', true],
    ]);
    const regexp = await runSignet(
      [
        'verify',
        ref,
        '--certificate-identity-regexp',
        '.*@example\\.com',
        '--certificate-oidc-issuer-regexp',
        'https://issuer\\.example\\.(com|org)',
        '--trusted-root',
        join(work, 'trusted_root.json'),
      ],
      { env: env() }
    );
    expect(regexp.code, regexp.stdout + regexp.stderr).toBe(0);

    const cases: Array<[string[], RegExp]> = [
      [
        keyless('mallory@example.com', ISSUER),
        /certificate-identity check failed: release@example.com from https:\/\/issuer.example.com matches none of/,
      ],
      [keyless(WHO, 'https://accounts.example.org'), /certificate-identity check failed/],
      [keyless(WHO, ISSUER, 'other_root.json'), /certificate-chain check failed/],
    ];
    for (const [args, expected] of cases) {
      const f = await runSignet(['verify', ref, ...args], { env: env() });
      expect(f.code, f.stdout).toBe(1);
      expect(f.stdout).toMatch(expected);
    }
    const wrongDigest = await runSignet(['verify', `${serve.host}/team/app:v2`, ...keyless(WHO, ISSUER).slice(4)], {
      env: env(),
    });
    expect(wrongDigest.code).toBe(1);
    expect(wrongDigest.stdout).toMatch(
      /subject check failed: the in-toto statement's subjects \(sha256:[0-9a-f]{64}\) do not include/
    );
  }, 60_000);

  it('usage: an identity needs an issuer; an invalid regular expression is refused (exit 2)', async () => {
    const a = await runSignet(['verify', `${serve.host}/team/app:v1`, '--certificate-identity', WHO], { env: env() });
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(/needs both --certificate-identity/);
    const b = await runSignet(
      [
        'verify',
        `${serve.host}/team/app:v1`,
        '--certificate-identity-regexp',
        '(',
        '--certificate-oidc-issuer',
        ISSUER,
        '--trusted-root',
        join(work, 'trusted_root.json'),
      ],
      { env: env() }
    );
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/subjectRegExp "\(" is not a valid regular expression/);
  });
});
