import type { VerificationReport } from '../../src/verify/index.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { RegistryTarget } from '../../src/store/index.ts';
import { pushArtifact } from '../helpers/artifacts.ts';
import { runSignet, startServe, type Served } from '../helpers/serve.ts';

const run = promisify(execFile);
const BUNDLE = join(import.meta.dirname, '../fixtures/interop/make-flatpak-bundle.sh');
const REF = 'runtime/org.test.Platform/x86_64/stable';

describe("Flatpak (Debian's flatpak 1.14, offline) installs from signet serve", () => {
  let work: string;
  let serve: Served;
  let fenv: NodeJS.ProcessEnv;
  const env = (): NodeJS.ProcessEnv => ({ SIGNET_HOME: join(work, 'signet-home') });
  // stdin closed: flatpak must never wait for an answer
  const flatpak = (args: string[]): Promise<{ stdout: string; stderr: string }> =>
    new Promise((resolve, reject) => {
      const child = spawn('dbus-run-session', ['--', 'flatpak', '--user', ...args], {
        env: fenv,
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 120_000,
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
      child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      // 'exit', not 'close': D-Bus-activated helpers (the OCI authenticator) inherit the pipes and
      // outlive the command, so the streams would never close.
      child.on('exit', (code) => {
        setTimeout(() => {
          child.stdout.destroy();
          child.stderr.destroy();
          if (code === 0) resolve({ stdout, stderr });
          else reject(new Error(`flatpak ${args.join(' ')} exited ${code}: ${stderr}`));
        }, 50);
      });
    });

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'signet-flatpak-'));
    await run('bash', [BUNDLE, join(work, 'bundle')], { timeout: 300_000 });
    serve = await startServe();
    fenv = { ...process.env, HOME: join(work, 'home'), XDG_DATA_HOME: join(work, 'home', '.local', 'share') };
    await mkdir(join(work, 'home'), { recursive: true });
  }, 300_000);
  afterAll(async () => {
    // D-Bus-activated flatpak helpers started for this scratch HOME outlive the commands: stop them.
    const { readdir, readFile } = await import('node:fs/promises');
    for (const pid of (await readdir('/proc')).filter((p) => /^\d+$/.test(p))) {
      const environ = await readFile(`/proc/${pid}/environ`, 'utf8').catch(() => '');
      if (work && environ.includes(`HOME=${join(work, 'home')}\0`)) {
        try {
          process.kill(Number(pid), 'SIGTERM');
        } catch {
          // already gone
        }
      }
    }
    await serve?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('the bundle layout is read by its Flatpak ref, and by being its only manifest', async () => {
    const byRef = await runSignet(['discover', `oci:${join(work, 'bundle', 'bundle.oci')}:${REF}`, '-o', 'json']);
    expect(byRef.code, byRef.stderr).toBe(0);
    const sole = await runSignet(['discover', `oci:${join(work, 'bundle', 'bundle.oci')}`, '-o', 'json']);
    expect(JSON.parse(sole.stdout).digest).toBe(JSON.parse(byRef.stdout).digest);
  });

  it('signet copy pushes it; flatpak remote-add, remote-ls and install succeed', { timeout: 240_000 }, async () => {
    const c = await runSignet([
      'copy',
      `oci:${join(work, 'bundle', 'bundle.oci')}`,
      `${serve.host}/org.test.platform:latest`,
    ]);
    expect(c.code, c.stderr).toBe(0);
    const idx = (await (
      await fetch(
        `http://${serve.host}/index/static?label:org.flatpak.ref:exists=1&architecture=amd64&os=linux&tag=latest`
      )
    ).json()) as { Results: Array<{ Name: string; Images: Array<{ Labels: Record<string, string> }> }> };
    expect(idx.Results[0]!.Name).toBe('org.test.platform');
    expect(idx.Results[0]!.Images[0]!.Labels['org.flatpak.ref']).toBe(REF);
    const none = (await (
      await fetch(
        `http://${serve.host}/index/static?label:org.flatpak.ref:exists=1&architecture=arm64&os=linux&tag=latest`
      )
    ).json()) as { Results: unknown[] };
    expect(none.Results).toEqual([]);
    await flatpak(['remote-add', '--no-gpg-verify', 'signet', `oci+http://${serve.host}`]);
    const ls = await flatpak(['remote-ls', 'signet', '--columns=ref']);
    expect(ls.stdout).toContain(REF);
    const inst = await flatpak(['install', '-y', '--noninteractive', 'signet', REF]);
    expect(inst.stdout + inst.stderr).toMatch(/Installing|installed|Installation complete/i);
    const list = await flatpak(['list', '--runtime', '--columns=ref']);
    expect(list.stdout).toContain('org.test.Platform');
  });

  it(
    'Signet signs the Flatpak image (Notary and simple signing) and verifies it; a moved tag is refused',
    { timeout: 180_000 },
    async () => {
      const e = env();
      expect(
        (
          await runSignet(['key', 'generate', 'root', '--ca', '--subject', 'CN=Flatpak Root,O=Test,ST=WA,C=US'], {
            env: e,
          })
        ).code
      ).toBe(0);
      expect(
        (
          await runSignet(
            ['key', 'generate', 'rel', '--issuer', 'root', '--default', '--subject', 'CN=rel,O=Test,ST=WA,C=US'],
            { env: e }
          )
        ).code
      ).toBe(0);
      const root = await runSignet(['key', 'show', 'root', '--cert'], { env: e });
      await writeFile(join(work, 'root.pem'), root.stdout);
      expect(
        (await runSignet(['cert', 'add', '--type', 'ca', '--store', 'fp', join(work, 'root.pem')], { env: e })).code
      ).toBe(0);
      expect(
        (
          await runSignet(
            [
              'policy',
              'init',
              '--name',
              'fp',
              '--scope',
              `${serve.host}/org.test.platform`,
              '--trust-store',
              'ca:fp',
              '--identity',
              'x509.subject: CN=rel,O=Test,ST=WA,C=US',
            ],
            { env: e }
          )
        ).code
      ).toBe(0);
      const ref = `${serve.host}/org.test.platform:latest`;
      expect((await runSignet(['sign', ref], { env: e })).code).toBe(0);
      expect((await runSignet(['verify', ref], { env: e })).code).toBe(0);
      // simple signing too, enforced through a containers policy
      expect((await runSignet(['key', 'generate', 'gk', '--type', 'gpg-ed25519'], { env: e })).code).toBe(0);
      const rd = join(work, 'registries.d');
      await mkdir(rd, { recursive: true });
      await writeFile(
        join(rd, 'fp.yaml'),
        `docker:\n  ${serve.host}:\n    lookaside: file://${join(work, 'lookaside')}\n`
      );
      expect(
        (
          await runSignet(['sign', ref, '--signature-format', 'simple', '--key', 'gk', '--registries-d', rd], {
            env: e,
          })
        ).code
      ).toBe(0);
      const { KeyStore } = await import('../../src/pki/index.ts');
      await writeFile(join(work, 'gk.gpg'), (await new KeyStore(join(work, 'signet-home')).gpgKey('gk')).publicKey);
      await writeFile(
        join(work, 'policy.json'),
        JSON.stringify({
          default: [{ type: 'reject' }],
          transports: {
            docker: {
              [`${serve.host}/org.test.platform`]: [
                { type: 'signedBy', keyType: 'GPGKeys', keyPath: join(work, 'gk.gpg') },
              ],
            },
          },
        })
      );
      // one verification, both families in one report: the Notary policy (configured in SIGNET_HOME) and the containers policy
      const both = await runSignet(
        ['verify', ref, '--containers-policy', join(work, 'policy.json'), '--registries-d', rd, '-o', 'json'],
        { env: e }
      );
      expect(both.code, both.stdout + both.stderr).toBe(0);
      const [report] = JSON.parse(both.stdout) as VerificationReport[];
      expect(report!.verdict).toBe('verified');
      expect(report!.requirements.map((r) => [r.name, r.satisfied])).toEqual([
        ['trust-policy:fp', true],
        [`containers-policy:${serve.host}/org.test.platform[0] signedBy`, true],
      ]);
      expect(new Set(report!.signatures.filter((x) => x.verdict === 'verified').map((x) => x.family))).toEqual(
        new Set(['notary', 'simple'])
      );
      const noPolicy = await runSignet(['verify', ref], { env: { SIGNET_HOME: join(work, 'empty-home') } });
      expect(noPolicy.code).toBe(1);
      expect(noPolicy.stderr).toMatch(/no policy is configured/);
      // move the tag to an unsigned image: both verifications refuse
      const t = new RegistryTarget({ registry: serve.host, repository: 'org.test.platform' });
      await pushArtifact(t, 'not the runtime', { tag: 'latest' });
      await t.close();
      const n = await runSignet(['verify', ref], { env: e });
      expect(n.code).toBe(1);
      expect(n.stdout).toMatch(/no Notary Project signature is associated/);
      const s = await runSignet(
        ['verify', ref, '--containers-policy', join(work, 'policy.json'), '--registries-d', rd],
        {
          env: e,
        }
      );
      expect(s.code).toBe(1);
    }
  );
});
