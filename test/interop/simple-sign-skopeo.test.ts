import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { verifyContainersPolicy } from '../helpers/verify.ts';
import { KeyStore } from '../../src/pki/index.ts';
import { runSignet, startServe, type Served } from '../helpers/serve.ts';

const run = promisify(execFile);

async function skopeo(args: string[]): Promise<{ ok: boolean; out: string }> {
  try {
    const { stdout, stderr } = await run('skopeo', args);
    return { ok: true, out: stdout + stderr };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return { ok: false, out: (e.stdout ?? '') + (e.stderr ?? '') };
  }
}

describe('Signet signs with containers simple signing; skopeo enforces it', () => {
  let work: string;
  let serve: Served;
  let rd: string;
  let policy: string;
  const env = (): NodeJS.ProcessEnv => ({ SIGNET_HOME: join(work, 'home') });

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'signet-simple-'));
    serve = await startServe();
    const layout = join(work, 'image');
    await run('umoci', ['init', '--layout', layout]);
    await run('umoci', ['new', '--image', `${layout}:v1`]);
    for (const dest of ['app:signed', 'app:unsigned', 'other:v1']) {
      const r = await skopeo([
        'copy',
        '--dest-tls-verify=false',
        `oci:${layout}:v1`,
        `docker://${serve.host}/simple/${dest}`,
      ]);
      expect(r.ok, r.out).toBe(true);
    }
    expect((await runSignet(['key', 'generate', 'gk', '--type', 'gpg-ed25519'], { env: env() })).code).toBe(0);
    const k = await new KeyStore(join(work, 'home')).gpgKey('gk');
    await writeFile(join(work, 'pub.gpg'), k.publicKey);
    rd = join(work, 'registries.d');
    await (await import('node:fs/promises')).mkdir(rd);
    await writeFile(
      join(rd, 'local.yaml'),
      `docker:\n  ${serve.host}:\n    lookaside: file://${join(work, 'lookaside')}\n    lookaside-staging: file://${join(work, 'lookaside')}\n`
    );
    policy = join(work, 'policy.json');
    await writeFile(
      policy,
      JSON.stringify({
        default: [{ type: 'reject' }],
        transports: {
          docker: {
            [`${serve.host}/simple`]: [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: join(work, 'pub.gpg') }],
          },
        },
      })
    );
    const s = await runSignet(
      ['sign', `${serve.host}/simple/app:signed`, '--signature-format', 'simple', '--key', 'gk', '--registries-d', rd],
      { env: env() }
    );
    expect(s.code, s.stderr).toBe(0);
  }, 120_000);
  afterAll(async () => {
    await serve?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const pull = (ref: string) =>
    skopeo([
      'copy',
      '--remove-signatures',
      '--policy',
      policy,
      '--registries.d',
      rd,
      '--src-tls-verify=false',
      `docker://${serve.host}/simple/${ref}`,
      `oci:${join(work, `out-${ref.replace(/\W/g, '')}`)}:x`,
    ]);

  it('skopeo accepts the Signet-signed image', async () => {
    const r = await pull('app:signed');
    expect(r.ok, r.out).toBe(true);
  });

  it('skopeo rejects the unsigned tag and a name the signature was copied to', async () => {
    const u = await pull('app:unsigned');
    expect(u.ok).toBe(false);
    const digest = (
      JSON.parse((await skopeo(['inspect', '--tls-verify=false', `docker://${serve.host}/simple/app:signed`])).out) as {
        Digest: string;
      }
    ).Digest;
    await cp(
      join(work, 'lookaside', 'simple', `app@sha256=${digest.slice(7)}`),
      join(work, 'lookaside', 'simple', `other@sha256=${digest.slice(7)}`),
      { recursive: true }
    );
    const o = await pull('other:v1');
    expect(o.ok).toBe(false);
    expect(o.out).toMatch(/Signature for identity .* is not accepted|not accepted|rejected/i);
  });

  it("signet copy carries simple signatures: lookaside → referrers (layout) → another registry's lookaside; skopeo accepts the mirror", async () => {
    const layout = `oci:${join(work, 'carry-layout')}:v1`;
    const c1 = await runSignet(
      ['copy', `${serve.host}/simple/app:signed`, layout, '--registries-d', rd, '-o', 'json'],
      { env: env() }
    );
    expect(c1.code, c1.stderr).toBe(0);
    expect(JSON.parse(c1.stdout).simpleSignatures).toEqual({ attached: 1, written: 0 });
    const d = JSON.parse((await runSignet(['discover', layout, '-o', 'json'])).stdout) as {
      referrers: Array<{ artifactType: string }>;
    };
    expect(d.referrers.map((r) => r.artifactType)).toContain('application/vnd.signet.containers.simple-signature.v1');
    const ins = JSON.parse((await runSignet(['inspect', layout, '-o', 'json'])).stdout) as {
      otherSignatures: Array<{ family: string; dockerReference: string }>;
    };
    expect(ins.otherSignatures).toEqual([
      expect.objectContaining({ family: 'simple', dockerReference: `${serve.host}/simple/app:signed` }),
    ]);
    const serve2 = await startServe();
    try {
      const rd2 = join(work, 'registries2.d');
      await (await import('node:fs/promises')).mkdir(rd2, { recursive: true });
      await writeFile(
        join(rd2, 'mirror.yaml'),
        `docker:\n  ${serve2.host}:\n    lookaside: file://${join(work, 'lookaside2')}\n    lookaside-staging: file://${join(work, 'lookaside2')}\n`
      );
      const c2 = await runSignet(
        ['copy', layout, `${serve2.host}/simple/app:signed`, '--registries-d', rd2, '-o', 'json'],
        { env: env() }
      );
      expect(c2.code, c2.stderr).toBe(0);
      expect(JSON.parse(c2.stdout).simpleSignatures).toEqual({ attached: 0, written: 1 });
      // the signature names the original registry: the mirror's policy remaps its prefix
      const policy2 = join(work, 'policy2.json');
      await writeFile(
        policy2,
        JSON.stringify({
          default: [{ type: 'reject' }],
          transports: {
            docker: {
              [`${serve2.host}/simple`]: [
                {
                  type: 'signedBy',
                  keyType: 'GPGKeys',
                  keyPath: join(work, 'pub.gpg'),
                  signedIdentity: { type: 'remapIdentity', prefix: serve2.host, signedPrefix: serve.host },
                },
              ],
            },
          },
        })
      );
      const r = await skopeo([
        'copy',
        '--remove-signatures',
        '--policy',
        policy2,
        '--registries.d',
        rd2,
        '--src-tls-verify=false',
        `docker://${serve2.host}/simple/app:signed`,
        `oci:${join(work, 'mirror-out')}:x`,
      ]);
      expect(r.ok, r.out).toBe(true);
      expect(
        (await verifyContainersPolicy(`${serve2.host}/simple/app:signed`, { policy: policy2, registriesD: rd2 }))
          .accepted
      ).toBe(true);
      // signet serve is itself a lookaside server for the signatures it holds as referrers
      const rd3 = join(work, 'registries3.d');
      await (await import('node:fs/promises')).mkdir(rd3, { recursive: true });
      await writeFile(
        join(rd3, 'served.yaml'),
        `docker:\n  ${serve2.host}:\n    lookaside: http://${serve2.host}/lookaside\n`
      );
      const served = await skopeo([
        'copy',
        '--remove-signatures',
        '--policy',
        policy2,
        '--registries.d',
        rd3,
        '--src-tls-verify=false',
        `docker://${serve2.host}/simple/app:signed`,
        `oci:${join(work, 'served-out')}:x`,
      ]);
      expect(served.ok, served.out).toBe(true);
      expect(
        (await fetch(`http://${serve2.host}/lookaside/simple/app@sha256=${'0'.repeat(64)}/signature-1`)).status
      ).toBe(404);
      // without the remap, the name binding refuses the mirror
      const strict = join(work, 'policy3.json');
      await writeFile(
        strict,
        JSON.stringify({
          default: [{ type: 'reject' }],
          transports: {
            docker: {
              [`${serve2.host}/simple`]: [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: join(work, 'pub.gpg') }],
            },
          },
        })
      );
      expect(
        (await verifyContainersPolicy(`${serve2.host}/simple/app:signed`, { policy: strict, registriesD: rd2 }))
          .accepted
      ).toBe(false);
    } finally {
      await serve2.close();
    }
  });

  it('Signet enforces the same policy with the same outcomes', async () => {
    const expectations: Array<[string, boolean]> = [
      ['app:signed', true],
      ['app:unsigned', false],
      ['other:v1', false],
    ];
    for (const [ref, accepted] of expectations) {
      expect(
        (await verifyContainersPolicy(`${serve.host}/simple/${ref}`, { policy, registriesD: rd })).accepted,
        ref
      ).toBe(accepted);
    }
  });
});
