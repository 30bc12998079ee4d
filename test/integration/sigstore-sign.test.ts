import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fetchManifest, RegistryTarget } from '../../src/store/index.ts';
import { attachSigstoreBundle, cosignStatement } from '../../src/sign/index.ts';
import { verifyArtifacts, type VerificationReport } from '../../src/verify/index.ts';
import { pushArtifact } from '../helpers/artifacts.ts';
import { makeChain } from '../helpers/pki.ts';
import { installRawPlugin } from '../helpers/raw-plugin.ts';
import { peerTools } from '../helpers/peer-tools.ts';
import { runSignet, startServe, type Served } from '../helpers/serve.ts';
import { startSigstoreMock, type SigstoreMock } from '../helpers/sigstore-mock.ts';

const run = promisify(execFile);
const BUNDLE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
const ISSUER = 'https://issuer.example.com';
const WHO = 'builder@example.com';
const SLSA_V1 = 'https://slsa.dev/provenance/v1';
const SLSA_V02 = 'https://slsa.dev/provenance/v0.2';

describe('Sigstore attestations (--attestation-type) and key-based bundles Signet makes, both ways with cosign', () => {
  let work: string;
  let serve: Served;
  let mock: SigstoreMock;
  let tools: { cosign: string; cosign3: string };
  const env = (): Record<string, string> => ({ SIGNET_HOME: join(work, 'home') });
  const cos = (bin: string, args: string[]) =>
    run(bin, args, {
      env: { ...process.env, COSIGN_PASSWORD: '', COSIGN_YES: 'true', HOME: work },
      cwd: work,
      timeout: 60_000,
    });
  /** cosign 2.5 attests `ref` with cosign.key (no log): a SLSA v0.2 provenance predicate. */
  const cosignAttest = async (ref: string, extra: string[] = []) => {
    await writeFile(
      join(work, 'p.json'),
      JSON.stringify({ builder: { id: 'https://ci.example.com' }, buildType: 'x' })
    );
    await cos(tools.cosign, [
      ...['attest', ...extra, '--key', 'cosign.key', '--tlog-upload=false', '--type', 'slsaprovenance'],
      ...['--predicate', 'p.json', '--allow-insecure-registry', ref],
    ]);
  };
  const image = async (repo: string, text: string) => {
    const t = new RegistryTarget({ registry: serve.host, repository: repo });
    const d = await pushArtifact(t, text, { tag: 'v1' });
    return { t, d, ref: `${serve.host}/${repo}@${d.digest}` };
  };

  beforeAll(async () => {
    tools = await peerTools();
    work = await mkdtemp(join(tmpdir(), 'signet-sigstore-sign-'));
    [serve, mock] = await Promise.all([startServe(), startSigstoreMock()]);
    await cos(tools.cosign3, ['generate-key-pair']);
    await writeFile(join(work, 'trusted_root.json'), JSON.stringify(mock.trustedRoot));
    const g = await runSignet(['key', 'generate', 'release', '--subject', 'CN=release,O=T,ST=WA,C=US'], { env: env() });
    expect(g.code, g.stderr).toBe(0);
    const pub = await runSignet(['key', 'show', 'release', '--public'], { env: env() });
    expect(pub.code, pub.stderr).toBe(0);
    await writeFile(join(work, 'release.pub'), pub.stdout);
  }, 120_000);
  afterAll(async () => {
    await Promise.all([serve?.close(), mock?.close()]);
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('--attestation-type: only a keyless DSSE attestation of that predicate type counts; another type fails naming predicate-type', async () => {
    const { t, d, ref } = await image('att/app', 'attested image');
    const sign = (predicateType: string) =>
      mock.sign(cosignStatement(d.digest, predicateType, { builder: { id: 'https://ci.example.com' } }), {
        subject: WHO,
        issuer: ISSUER,
        dsse: 'application/vnd.in-toto+json',
      });
    await attachSigstoreBundle(t, d, await sign(SLSA_V1));
    await attachSigstoreBundle(t, d, await sign('https://sigstore.dev/cosign/sign/v1'));
    await t.close();
    const sigstore = {
      identities: [{ subject: WHO, issuer: ISSUER }],
      trustedRoot: join(work, 'trusted_root.json'),
    };
    // the library option
    const [ok] = await verifyArtifacts([ref], { sources: { sigstore: { ...sigstore, attestationType: SLSA_V1 } } });
    expect(ok!.verdict).toBe('verified');
    const judged = ok!.signatures.map((s) => [s.verdict, s.checks.find((c) => c.name === 'predicate-type')?.outcome]);
    expect(judged.sort()).toEqual([
      ['failed', 'fail'],
      ['verified', 'pass'],
    ]);
    expect(ok!.requirements[0]!.by).toHaveLength(1);
    // the CLI flag
    const keyless = ['--certificate-identity', WHO, '--certificate-oidc-issuer', ISSUER];
    const root = ['--trusted-root', join(work, 'trusted_root.json')];
    const cli = await runSignet(['verify', ref, ...keyless, ...root, '--attestation-type', SLSA_V1], { env: env() });
    expect(cli.code, cli.stdout + cli.stderr).toBe(0);
    const bad = await runSignet(
      ['verify', ref, ...keyless, ...root, '--attestation-type', 'https://spdx.dev/Document'],
      { env: env() }
    );
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(
      /predicate-type check failed: the in-toto predicate type is https:\/\/slsa.dev\/provenance\/v1, not https:\/\/spdx.dev\/Document/
    );
    const usage = await runSignet(['verify', ref, '--attestation-type', SLSA_V1], { env: env() });
    expect(usage.code).toBe(2);
  }, 40_000);

  it('cosign 2.5 attest --new-bundle-format --type slsaprovenance: verifies with --attestation-type of its predicate', async () => {
    const { t, ref } = await image('att/cosign', 'cosign attested image');
    await t.close();
    await cosignAttest(ref, ['--new-bundle-format']);
    const key = ['--key', join(work, 'cosign.pub')];
    const ok = await runSignet(['verify', ref, ...key, '--attestation-type', SLSA_V02, '-o', 'json'], {
      env: env(),
    });
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    const [r] = JSON.parse(ok.stdout) as VerificationReport[];
    expect(r!.signatures[0]!.checks.map((c) => [c.name, c.outcome])).toEqual([
      ['subject', 'pass'],
      ['predicate-type', 'pass'],
      ['authenticity', 'pass'],
      ['transparency-log', 'skipped'],
    ]);
    const other = await runSignet(['verify', ref, ...key, '--attestation-type', SLSA_V1], { env: env() });
    expect(other.code).toBe(1);
    expect(other.stdout).toMatch(/predicate-type check failed/);
  }, 40_000);

  it('cosign 2.5 attest (legacy: the .att tag, DSSE layers) verifies with --attestation-type, and travels with signet copy', async () => {
    const { t, ref } = await image('att/legacy', 'cosign legacy attested image');
    await t.close();
    await cosignAttest(ref);
    const key = ['--key', join(work, 'cosign.pub')];
    const ok = await runSignet(['verify', ref, ...key, '--attestation-type', SLSA_V02, '-o', 'json'], { env: env() });
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    const [r] = JSON.parse(ok.stdout) as VerificationReport[];
    const s = r!.signatures.find((x) => x.family === 'sigstore')!;
    expect(s.source).toMatch(/^tag sha256-[0-9a-f]{64}\.att$/);
    expect(s.checks.map((c) => [c.name, c.outcome])).toEqual([
      ['subject', 'pass'],
      ['predicate-type', 'pass'],
      ['authenticity', 'pass'],
      ['transparency-log', 'skipped'],
    ]);
    const other = await runSignet(['verify', ref, ...key, '--attestation-type', SLSA_V1], { env: env() });
    expect(other.code).toBe(1);
    // copied into a layout, the .att tag goes along and verifies there
    const layout = `oci:${join(work, 'att-layout')}:v1`;
    const c = await runSignet(['copy', ref, layout], { env: env() });
    expect(c.code, c.stdout + c.stderr).toBe(0);
    const there = await runSignet(['verify', layout, ...key, '--attestation-type', SLSA_V02], { env: env() });
    expect(there.code, there.stdout + there.stderr).toBe(0);
    const disc = await runSignet(['discover', layout], { env: env() });
    expect(disc.stdout).toMatch(/sha256:[0-9a-f]{64} \[tag sha256-[0-9a-f]{64}\.att\]/);
    const ls = await runSignet(['ls', layout], { env: env() });
    expect(ls.stdout).toMatch(
      /sigstore sha256-[0-9a-f]{64}\.att sha256:[0-9a-f]{64} DSSE application\/vnd\.in-toto\+json by key/
    );
  }, 60_000);

  it('a key a Notary plugin holds signs a Sigstore bundle (an HSM key): cosign 3 verifies it with the public key', async () => {
    const chain = await makeChain({ leafType: 'ecdsa-p256' });
    await installRawPlugin(join(work, 'notation-kms'), join(work, 'home'), 'kms', chain.leafKey, chain.chain);
    const add = await runSignet(['key', 'add', 'kms-key', '--plugin', 'kms', '--id', 'release-1'], { env: env() });
    expect(add.code, add.stdout + add.stderr).toBe(0);
    await writeFile(join(work, 'kms.pub'), chain.chain[0]!.publicKey.export({ type: 'spki', format: 'pem' }) as string);
    const { t, ref } = await image('bundle/kms', 'plugin-signed bundle image');
    await t.close();
    const s = await runSignet(['sign', ref, '--key', 'kms-key', '--signature-format', 'sigstore-bundle'], {
      env: env(),
    });
    expect(s.code, s.stdout + s.stderr).toBe(0);
    const ok = await runSignet(['verify', ref, '--key', join(work, 'kms.pub')], { env: env() });
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    await cos(tools.cosign3, [
      ...['verify', '--key', join(work, 'kms.pub'), '--insecure-ignore-tlog=true', '--allow-insecure-registry'],
      ref,
    ]);
  }, 60_000);

  it('signet sign --signature-format sigstore-bundle: cosign 3 layout; verified by signet --key and cosign3 verify --key', async () => {
    const { t, d, ref } = await image('bundle/app', 'signet bundle image');
    const s = await runSignet(['sign', ref, '--key', 'release', '--signature-format', 'sigstore-bundle'], {
      env: env(),
    });
    expect(s.code, s.stderr).toBe(0);
    const digest = s.stdout.trim();
    const { manifest } = await fetchManifest(t, await t.resolve(digest));
    await t.close();
    const m = manifest as unknown as Record<string, unknown> & {
      config: { mediaType: string };
      layers: Array<{ mediaType: string }>;
      subject: { digest: string };
      annotations: Record<string, string>;
    };
    expect(m.artifactType).toBe(BUNDLE);
    expect(m.config.mediaType).toBe('application/vnd.oci.empty.v1+json');
    expect(m.layers.map((l) => l.mediaType)).toEqual([BUNDLE]);
    expect(m.subject.digest).toBe(d.digest);
    expect(Object.keys(m.annotations).sort()).toEqual([
      'dev.sigstore.bundle.content',
      'dev.sigstore.bundle.predicateType',
      'org.opencontainers.image.created',
    ]);

    const ok = await runSignet(['verify', ref, '--key', join(work, 'release.pub'), '-o', 'json'], { env: env() });
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    const [r] = JSON.parse(ok.stdout) as VerificationReport[];
    expect(r!.signatures.map((x) => [x.family, x.digest, x.verdict])).toEqual([['sigstore', digest, 'verified']]);
    const wrong = await runSignet(['verify', ref, '--key', join(work, 'cosign.pub')], { env: env() });
    expect(wrong.code).toBe(1);

    const c = await cos(tools.cosign3, [
      'verify',
      '--key',
      join(work, 'release.pub'),
      '--insecure-ignore-tlog=true',
      '--allow-insecure-registry',
      ref,
    ]);
    expect(c.stderr).toMatch(/signatures were verified against the specified public key/);
    await expect(
      cos(tools.cosign3, [
        'verify',
        '--key',
        join(work, 'cosign.pub'),
        '--insecure-ignore-tlog=true',
        '--allow-insecure-registry',
        ref,
      ])
    ).rejects.toThrow();
  }, 40_000);

  it('signet blob sign --bundle: cosign3 verify-blob --key verifies it, and so does signet blob verify --bundle', async () => {
    const file = join(work, 'release.tar.gz');
    await writeFile(file, 'the release');
    const out = join(work, 'release.sigstore.json');
    const s = await runSignet(['blob', 'sign', file, '--key', 'release', '--bundle', out], { env: env() });
    expect(s.code, s.stderr).toBe(0);
    const b = JSON.parse(await readFile(out, 'utf8')) as { mediaType: string; messageSignature?: unknown };
    expect(b.mediaType).toBe(BUNDLE);
    expect(b.messageSignature).toBeDefined();
    const c = await cos(tools.cosign3, [
      'verify-blob',
      '--key',
      join(work, 'release.pub'),
      '--bundle',
      out,
      '--insecure-ignore-tlog=true',
      file,
    ]);
    expect(c.stderr).toMatch(/Verified OK/);
    const v = await runSignet(['blob', 'verify', file, '--bundle', out, '--key', join(work, 'release.pub')], {
      env: env(),
    });
    expect(v.code, v.stdout + v.stderr).toBe(0);
    await writeFile(file, 'another release');
    await expect(
      cos(tools.cosign3, [
        'verify-blob',
        '--key',
        join(work, 'release.pub'),
        '--bundle',
        out,
        '--insecure-ignore-tlog=true',
        file,
      ])
    ).rejects.toThrow();
  }, 40_000);
});
