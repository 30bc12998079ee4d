import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { VerificationReport } from '../../src/verify/index.ts';
import { peerTools } from '../helpers/peer-tools.ts';
import { runSignet } from '../helpers/serve.ts';
import { startSigstoreMock, type SigstoreMock } from '../helpers/sigstore-mock.ts';

const run = promisify(execFile);
const ISSUER = 'https://issuer.example.com';
const WHO = 'builder@example.com';

describe('signet blob verify --bundle: cosign 3 sign-blob (key) and keyless bundles, for a file or a digest', () => {
  let work: string;
  let mock: SigstoreMock;
  let file: string;
  let digest: string;
  const env = (): Record<string, string> => ({ SIGNET_HOME: join(work, 'home') });

  beforeAll(async () => {
    const { cosign3 } = await peerTools();
    work = await mkdtemp(join(tmpdir(), 'signet-sigstore-blob-'));
    mock = await startSigstoreMock();
    file = join(work, 'release.tar');
    const bytes = Buffer.from('release contents');
    await writeFile(file, bytes);
    digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    const cos = (args: string[]) =>
      run(cosign3, args, { env: { ...process.env, COSIGN_PASSWORD: '', COSIGN_YES: 'true', HOME: work }, cwd: work });
    await cos(['generate-key-pair']);
    await cos(['generate-key-pair', '--output-key-prefix', 'other']);
    await cos([
      'sign-blob',
      '--key',
      'cosign.key',
      '--tlog-upload=false',
      '--use-signing-config=false',
      '--bundle',
      'key.bundle',
      file,
    ]);
    await writeFile(join(work, 'trusted_root.json'), JSON.stringify(mock.trustedRoot));
    const statement = Buffer.from(
      JSON.stringify({
        _type: 'https://in-toto.io/Statement/v1',
        subject: [{ name: 'release.tar', digest: { sha256: digest.slice(7) } }],
        predicateType: 'https://slsa.dev/provenance/v1',
        predicate: {},
      })
    );
    const dsse = await mock.sign(statement, { subject: WHO, issuer: ISSUER, dsse: 'application/vnd.in-toto+json' });
    await writeFile(join(work, 'keyless-dsse.bundle'), JSON.stringify(dsse));
    await writeFile(
      join(work, 'keyless-msg.bundle'),
      JSON.stringify(await mock.sign(bytes, { subject: WHO, issuer: ISSUER }))
    );
  }, 60_000);
  afterAll(async () => {
    await mock?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const keyless = ['--certificate-identity', WHO, '--certificate-oidc-issuer', ISSUER, '--trusted-root'];

  it('cosign 3 sign-blob --bundle (key-based message signature, no log) verifies with --key; another key fails', async () => {
    const ok = await runSignet(
      ['blob', 'verify', file, '--bundle', join(work, 'key.bundle'), '--key', join(work, 'cosign.pub'), '-o', 'json'],
      { env: env() }
    );
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    const r = JSON.parse(ok.stdout) as VerificationReport;
    expect(r.digest).toBe(digest);
    expect(r.signatures[0]!.checks.map((c) => c.name)).toEqual(['subject', 'authenticity', 'transparency-log']);
    const bad = await runSignet(
      ['blob', 'verify', file, '--bundle', join(work, 'key.bundle'), '--key', join(work, 'other.pub')],
      { env: env() }
    );
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/authenticity check failed/);
  });

  it('keyless DSSE: FILE and sha256:<hex> give the same verdicts (verified; wrong identity fails certificate-identity)', async () => {
    for (const subject of [file, digest]) {
      const args = ['blob', 'verify', subject, '--bundle', join(work, 'keyless-dsse.bundle')];
      const ok = await runSignet([...args, ...keyless, join(work, 'trusted_root.json')], { env: env() });
      expect(ok.code, subject + ok.stdout + ok.stderr).toBe(0);
      const bad = await runSignet(
        [
          ...args,
          '--certificate-identity',
          'x@example.com',
          '--certificate-oidc-issuer',
          ISSUER,
          '--trusted-root',
          join(work, 'trusted_root.json'),
        ],
        { env: env() }
      );
      expect(bad.code).toBe(1);
      expect(bad.stdout).toMatch(/certificate-identity check failed/);
    }
  });

  it("GitHub workflow fields (cosign's --certificate-github-workflow-*): the certificate's Fulcio extensions must match exactly", async () => {
    const bundle = await mock.sign(Buffer.from('workflow-built release'), {
      subject: WHO,
      issuer: ISSUER,
      claims: { repository: 'acme/app', ref: 'refs/heads/main', event_name: 'push', workflow: 'release' },
    });
    await writeFile(join(work, 'gh.bundle'), JSON.stringify(bundle));
    await writeFile(join(work, 'gh.txt'), 'workflow-built release');
    const base = ['blob', 'verify', join(work, 'gh.txt'), '--bundle', join(work, 'gh.bundle'), ...keyless];
    const root = join(work, 'trusted_root.json');
    const ok = await runSignet(
      [
        ...base,
        root,
        '--certificate-github-workflow-repository',
        'acme/app',
        '--certificate-github-workflow-trigger',
        'push',
      ],
      { env: env() }
    );
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    const bad = await runSignet([...base, root, '--certificate-github-workflow-repository', 'acme/other'], {
      env: env(),
    });
    expect(bad.code, bad.stdout + bad.stderr).toBe(1);
    expect(bad.stdout).toMatch(
      /certificate-identity check failed: .*GitHub workflow repository is "acme\/app", not "acme\/other"/
    );
    const absent = await runSignet([...base, root, '--certificate-github-workflow-sha', 'abc123'], { env: env() });
    expect(absent.code).toBe(1);
    expect(absent.stdout).toMatch(/GitHub workflow sha is absent, not "abc123"/);
  });

  it('--offline without --trusted-root uses only the cached public-good root: none cached is inconclusive (exit 3), never a pass', async () => {
    const r = await runSignet(
      [
        ...['blob', 'verify', file, '--bundle', join(work, 'keyless-dsse.bundle')],
        ...['--certificate-identity', 'x@example.com', '--certificate-oidc-issuer', ISSUER, '--offline'],
      ],
      { env: { SIGNET_HOME: join(work, 'never-online') } }
    );
    expect(r.code, r.stdout + r.stderr).toBe(3);
    expect(r.stderr).toMatch(
      /--offline: no cached public-good Sigstore trusted root in .*sigstore-tuf.*give --trusted-root FILE/
    );
  });

  it('keyless message signature of the file verifies; for a changed file it fails subject', async () => {
    const args = ['--bundle', join(work, 'keyless-msg.bundle'), ...keyless, join(work, 'trusted_root.json')];
    expect((await runSignet(['blob', 'verify', file, ...args], { env: env() })).code).toBe(0);
    const changed = join(work, 'changed.tar');
    await writeFile(changed, 'release contents, changed');
    const f = await runSignet(['blob', 'verify', changed, ...args], { env: env() });
    expect(f.code).toBe(1);
    expect(f.stdout).toMatch(/subject check failed: the message signature is for sha256:/);
  });
});
