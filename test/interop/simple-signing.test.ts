import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { verifyContainersPolicy } from '../helpers/verify.ts';
import { startDistribution } from '../helpers/distribution.ts';
import { runSignet, startServe } from '../helpers/serve.ts';

const run = promisify(execFile);
const FIXTURE = join(import.meta.dirname, '../fixtures/interop/make-gpg-fixture.sh');

interface Fixture {
  policy: string;
  registriesD: string;
  cases: Array<{ reference: string; expect: 'accept' | 'reject' }>;
}

describe.each([
  ['signet serve', async () => startServe()],
  ["Debian's docker-registry", async () => startDistribution()],
])('containers simple signing (skopeo-made GPG fixtures) on %s', (_name, start) => {
  let reg: { host: string; close(): Promise<void> };
  let dir: string;
  let fx: Fixture;
  beforeAll(async () => {
    reg = await start();
    dir = await mkdtemp(join(tmpdir(), 'signet-gpgfx-'));
    await run('bash', [FIXTURE, reg.host, dir], { timeout: 300_000 });
    fx = JSON.parse(await readFile(join(dir, 'fixture.json'), 'utf8')) as Fixture;
  }, 300_000);
  afterAll(async () => {
    await reg?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("every case of the fixture gets its outcome with the fixture's own policy.json and registries.d", async () => {
    expect(fx.cases.length).toBe(4);
    for (const c of fx.cases) {
      const r = await verifyContainersPolicy(c.reference, { policy: fx.policy, registriesD: fx.registriesD });
      expect(r.accepted ? 'accept' : 'reject', `${c.reference}: ${JSON.stringify(r.results)}`).toBe(c.expect);
    }
  });

  it('Signet-made and skopeo-made signatures of the same image verify in both tools (the fixture key imported into Signet)', async () => {
    const home = join(dir, 'signet-home');
    const { stdout: fpr } = await run('gpg', [
      '--homedir',
      join(dir, 'gnupg'),
      '--list-keys',
      '--with-colons',
      'fixture@example.test',
    ]);
    const fingerprint = /^fpr:+([0-9A-F]+):/m.exec(fpr)![1]!;
    const secret = (
      await run(
        'gpg',
        [
          '--homedir',
          join(dir, 'gnupg'),
          '--batch',
          '--pinentry-mode',
          'loopback',
          '--passphrase',
          '',
          '--export-secret-keys',
          fingerprint,
        ],
        { encoding: 'buffer' }
      )
    ).stdout as unknown as Buffer;
    await (await import('node:fs/promises')).writeFile(join(dir, 'fixture-secret.gpg'), secret);
    const imp = await runSignet(['key', 'import', 'fx', '--gpg-secret-key', join(dir, 'fixture-secret.gpg')], {
      env: { SIGNET_HOME: home },
    });
    expect(imp.stdout, imp.stderr).toContain(fingerprint);
    // app:unsigned shares app:signed's digest; Signet signs it for its own name
    const unsignedRef = fx.cases[1]!.reference;
    const sg = await runSignet(
      ['sign', unsignedRef, '--signature-format', 'simple', '--key', 'fx', '--registries-d', fx.registriesD],
      { env: { SIGNET_HOME: home } }
    );
    expect(sg.code, sg.stderr).toBe(0);
    for (const c of [fx.cases[0]!, fx.cases[1]!]) {
      expect(
        (await verifyContainersPolicy(c.reference, { policy: fx.policy, registriesD: fx.registriesD })).accepted,
        c.reference
      ).toBe(true);
      const { stdout, stderr } = await run('skopeo', [
        'copy',
        '--remove-signatures',
        '--policy',
        fx.policy,
        '--registries.d',
        fx.registriesD,
        '--src-tls-verify=false',
        `docker://${c.reference}`,
        `oci:${join(dir, `pulled-${c.reference.split(':').pop()}`)}:x`,
      ]).catch((e: { stdout: string; stderr: string }) => e);
      expect(stdout + stderr, c.reference).toContain('Writing manifest');
    }
  });

  it('policy-wrongkey.json rejects all; the CLI exits 0 / 1 accordingly', async () => {
    for (const c of fx.cases) {
      const r = await verifyContainersPolicy(c.reference, {
        policy: join(dir, 'policy-wrongkey.json'),
        registriesD: fx.registriesD,
      });
      expect(r.accepted, c.reference).toBe(false);
    }
    const ok = await runSignet([
      'verify',
      fx.cases[0]!.reference,
      '--containers-policy',
      fx.policy,
      '--registries-d',
      fx.registriesD,
    ]);
    expect(ok.stdout).toMatch(/✓ Verified .*signedBy.*authenticity: pass \(signed by [0-9A-F]{40}\)/s);
    expect(ok.code).toBe(0);
    const bad = await runSignet([
      'verify',
      fx.cases[2]!.reference,
      '--containers-policy',
      fx.policy,
      '--registries-d',
      fx.registriesD,
    ]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/signed identity .*fixture\/app:signed does not match/);
  });
});
