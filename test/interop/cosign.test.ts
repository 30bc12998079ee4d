import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { signCosign } from '../../src/sign/index.ts';
import { verifyCosign, verifyContainersPolicy } from '../helpers/verify.ts';
import { descriptorFor, encodeManifest, MediaType, type ImageManifest } from '../../src/oci/index.ts';
import {
  appendCosignLayer,
  buildCosignPayload,
  COSIGN_PAYLOAD_MEDIA_TYPE,
  COSIGN_SIGNATURE_ANNOTATION,
  cosignSign,
  cosignSignatureTag,
  parseCosignPublicKey,
} from '../../src/signature/index.ts';
import { fetchManifest, RegistryTarget } from '../../src/store/index.ts';
import { pushArtifact } from '../helpers/artifacts.ts';
import { peerTools } from '../helpers/peer-tools.ts';
import { startServe, type Served } from '../helpers/serve.ts';

const run = promisify(execFile);

describe('cosign key-based signatures, with the real cosign 2.5 as the peer', () => {
  let cosign: string;
  let work: string;
  let serve: Served;
  let cosignPub: KeyObject;
  const ours = generateKeyPairSync('ec', { namedCurve: 'P-256' });

  const cos = (args: string[]) =>
    run(cosign, args, {
      env: { ...process.env, COSIGN_PASSWORD: '', COSIGN_YES: 'true' },
      cwd: work,
      timeout: 120_000,
    });
  const image = async (tag: string): Promise<string> => {
    const t = new RegistryTarget({ registry: serve.host, repository: 'cosign/app' });
    const d = await pushArtifact(t, `cosign test ${tag}`, { tag });
    await t.close();
    return `${serve.host}/cosign/app@${d.digest}`;
  };

  beforeAll(async () => {
    cosign = (await peerTools()).cosign;
    work = await mkdtemp(join(tmpdir(), 'signet-cosign-'));
    serve = await startServe();
    await cos(['generate-key-pair']);
    cosignPub = parseCosignPublicKey(await readFile(join(work, 'cosign.pub')));
    await writeFile(join(work, 'ours.pub'), ours.publicKey.export({ format: 'pem', type: 'spki' }) as string);
  }, 600_000);
  afterAll(async () => {
    await serve?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('what cosign signs, Signet verifies; what Signet signs, cosign verifies; both on one tag', async () => {
    const ref = await image('both');
    await cos(['sign', '--key', 'cosign.key', '--tlog-upload=false', '--allow-insecure-registry', ref]);
    const v1 = await verifyCosign(ref, [cosignPub]);
    expect(v1.verified, JSON.stringify(v1.signatures)).toBe(true);
    await signCosign(ref, ours.privateKey);
    const both = await verifyCosign(ref, [cosignPub, ours.publicKey]);
    expect(both.signatures).toHaveLength(2);
    expect(both.signatures.every((s) => s.verified)).toBe(true);
    const { stdout } = await cos([
      'verify',
      '--key',
      'ours.pub',
      '--insecure-ignore-tlog=true',
      '--allow-insecure-registry',
      ref,
    ]);
    expect(stdout).toContain('"docker-manifest-digest"');
    await cos(['verify', '--key', 'cosign.pub', '--insecure-ignore-tlog=true', '--allow-insecure-registry', ref]);
    const { runSignet } = await import('../helpers/serve.ts');
    const ls = JSON.parse((await runSignet(['ls', ref, '-o', 'json'])).stdout) as {
      otherSignatures: Array<{ family: string; signedDigest: string }>;
    };
    expect(ls.otherSignatures.filter((o) => o.family === 'cosign')).toHaveLength(2);
    expect(ls.otherSignatures.every((o) => o.signedDigest === ref.split('@')[1])).toBe(true);
  });

  it('CLI: sign --signature-format cosign, verify --cosign-key (exit 0, and 1 with another key)', async () => {
    const { runSignet } = await import('../helpers/serve.ts');
    const env = { SIGNET_HOME: join(work, 'home') };
    expect((await runSignet(['key', 'generate', 'cos', '--type', 'ecdsa-p256'], { env })).code).toBe(0);
    const ref = await image('cli');
    const s = await runSignet(['sign', ref, '--signature-format', 'cosign', '--key', 'cos'], { env });
    expect(s.code, s.stderr).toBe(0);
    const { KeyStore } = await import('../../src/pki/index.ts');
    const k = await new KeyStore(join(work, 'home')).get('cos');
    await writeFile(join(work, 'cos.pub'), k.chain[0]!.publicKey.export({ format: 'pem', type: 'spki' }) as string);
    const ok = await runSignet(['verify', ref, '--cosign-key', join(work, 'cos.pub')], { env });
    expect(ok.stdout).toMatch(/✓ Verified .*cosign/);
    expect(ok.code).toBe(0);
    const bad = await runSignet(['verify', ref, '--cosign-key', join(work, 'cosign.pub')], { env });
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/does not verify with any of the given public keys/);
    await cos(['verify', '--key', 'cos.pub', '--insecure-ignore-tlog=true', '--allow-insecure-registry', ref]);
  });

  it('signet copy carries cosign signatures along (to docker-registry and a layout), and they verify there', async () => {
    const { copy } = await import('../../src/copy/index.ts');
    const { openTarget } = await import('../../src/store/index.ts');
    const { startDistribution } = await import('../helpers/distribution.ts');
    const ref = await image('carried');
    await signCosign(ref, ours.privateKey);
    const dist = await startDistribution();
    try {
      for (const dst of [`${dist.host}/mirror/app`, `oci:${join(work, 'carried-layout')}`]) {
        const s = await openTarget(ref);
        const d = await openTarget(`${dst}:carried`, { create: true });
        await copy(s.target, s.reference!, d.target, 'carried');
        await s.target.close();
        await d.target.close();
        const v = await verifyCosign(`${dst}:carried`, [ours.publicKey], { identity: false });
        expect(v.verified, dst).toBe(true);
      }
    } finally {
      await dist.close();
    }
  });

  it("cosign's OCI 1.1 referrers form, both ways", async () => {
    const ref = await image('oci11');
    await run(
      cosign,
      [
        'sign',
        '--key',
        'cosign.key',
        '--tlog-upload=false',
        '--allow-insecure-registry',
        '--registry-referrers-mode=oci-1-1',
        ref,
      ],
      {
        env: { ...process.env, COSIGN_PASSWORD: '', COSIGN_YES: 'true', COSIGN_EXPERIMENTAL: '1' },
        cwd: work,
        timeout: 120_000,
      }
    );
    const t = new RegistryTarget({ registry: serve.host, repository: 'cosign/app' });
    expect(await t.tags()).not.toContain(cosignSignatureTag(ref.split('@')[1]!));
    await t.close();
    const v = await verifyCosign(ref, [cosignPub]);
    expect(v.verified, JSON.stringify(v.signatures)).toBe(true);
    const ref2 = await image('oci11-ours');
    await signCosign(ref2, ours.privateKey, { referrers: true });
    expect((await verifyCosign(ref2, [ours.publicKey])).verified).toBe(true);
    await run(
      cosign,
      [
        'verify',
        '--key',
        'ours.pub',
        '--insecure-ignore-tlog=true',
        '--allow-insecure-registry',
        '--experimental-oci11',
        ref2,
      ],
      { env: { ...process.env, COSIGN_EXPERIMENTAL: '1' }, cwd: work, timeout: 120_000 }
    );
  });

  it('a containers policy with sigstoreSigned accepts the cosign-signed image and refuses others', async () => {
    const signedRef = await image('policy-signed');
    await cos(['sign', '--key', 'cosign.key', '--tlog-upload=false', '--allow-insecure-registry', signedRef]);
    const policy = join(work, 'sigstore-policy.json');
    await writeFile(
      policy,
      JSON.stringify({
        default: [{ type: 'reject' }],
        transports: {
          docker: {
            [`${serve.host}/cosign`]: [
              {
                type: 'sigstoreSigned',
                keyPath: join(work, 'cosign.pub'),
                signedIdentity: { type: 'matchRepository' },
              },
            ],
          },
        },
      })
    );
    const ok = await verifyContainersPolicy(signedRef, { policy });
    expect(ok.accepted, JSON.stringify(ok.results)).toBe(true);
    const unsigned = await image('policy-unsigned');
    expect((await verifyContainersPolicy(unsigned, { policy })).accepted).toBe(false);
    const wrongKey = join(work, 'sigstore-wrong.json');
    await writeFile(
      wrongKey,
      JSON.stringify({
        default: [{ type: 'reject' }],
        transports: {
          docker: { [`${serve.host}/cosign`]: [{ type: 'sigstoreSigned', keyPath: join(work, 'ours.pub') }] },
        },
      })
    );
    expect((await verifyContainersPolicy(signedRef, { policy: wrongKey })).accepted).toBe(false);
  });

  it("the payload and manifest have cosign's shapes field for field", async () => {
    const ref = await image('shape');
    const r = await signCosign(ref, ours.privateKey);
    const t = new RegistryTarget({ registry: serve.host, repository: 'cosign/app' });
    const d = await t.resolve(cosignSignatureTag(r.subject.digest));
    const { manifest } = await fetchManifest(t, d);
    const m = manifest as ImageManifest;
    expect(m.mediaType).toBe(MediaType.ImageManifest);
    expect(m.config.mediaType).toBe('application/vnd.oci.image.config.v1+json');
    expect(m.layers[0]!.mediaType).toBe('application/vnd.dev.cosign.simplesigning.v1+json');
    expect(Object.keys(m.layers[0]!.annotations!)).toEqual([COSIGN_SIGNATURE_ANNOTATION]);
    const payload = Buffer.from(await (await import('../../src/store/index.ts')).fetchAll(t, m.layers[0]!)).toString();
    expect(payload).toBe(
      `{"critical":{"identity":{"docker-reference":"${serve.host}/cosign/app"},"image":{"docker-manifest-digest":"${r.subject.digest}"},"type":"cosign container image signature"},"optional":null}`
    );
    await t.close();
  });

  it.each([
    ['RSA-2048', () => generateKeyPairSync('rsa', { modulusLength: 2048 })],
    ['ECDSA P-384', () => generateKeyPairSync('ec', { namedCurve: 'P-384' })],
    ['Ed25519', () => generateKeyPairSync('ed25519')],
  ])('%s round trip', async (_name, make) => {
    const k = make();
    const ref = await image(`kt-${_name.replace(/\W/g, '').toLowerCase()}`);
    await signCosign(ref, k.privateKey);
    expect((await verifyCosign(ref, [k.publicKey])).verified).toBe(true);
    expect((await verifyCosign(ref, [ours.publicKey])).verified).toBe(false);
  });

  it('refuses: wrong key, payload for another digest, another identity, malformed base64 and JSON', async () => {
    const ref = await image('neg');
    await signCosign(ref, ours.privateKey);
    const wrong = await verifyCosign(ref, [cosignPub]);
    expect(wrong.verified).toBe(false);
    expect(wrong.signatures[0]!.reason).toMatch(/does not verify/);
    const identity = await verifyCosign(ref, [ours.publicKey], { identity: 'registry.example.com/other' });
    expect(identity.signatures[0]!.reason).toMatch(/names .* not registry.example.com\/other/);
    // hand-made bad layers appended to the same signature manifest
    const t = new RegistryTarget({ registry: serve.host, repository: 'cosign/app' });
    const subject = await t.resolve(ref.split('@')[1]!);
    const tag = cosignSignatureTag(subject.digest);
    const { manifest } = await fetchManifest(t, await t.resolve(tag));
    let m = manifest as ImageManifest;
    const add = async (payload: Uint8Array, sig: string): Promise<void> => {
      const layer = {
        ...descriptorFor(COSIGN_PAYLOAD_MEDIA_TYPE, payload),
        annotations: { [COSIGN_SIGNATURE_ANNOTATION]: sig },
      };
      await t.push(descriptorFor(COSIGN_PAYLOAD_MEDIA_TYPE, payload), payload);
      const next = appendCosignLayer(m, layer);
      await t.push(descriptorFor(MediaType.ImageConfig, next.config), next.config);
      const bytes = encodeManifest(next.manifest);
      const desc = descriptorFor(MediaType.ImageManifest, bytes);
      await t.push(desc, bytes);
      await t.tag(desc, tag);
      m = next.manifest;
    };
    const other = buildCosignPayload(`${serve.host}/cosign/app`, `sha256:${'0'.repeat(64)}`);
    await add(other, cosignSign(other, ours.privateKey));
    await add(buildCosignPayload(`${serve.host}/cosign/app`, subject.digest, { note: 'x' }), 'not*base64!');
    const junk = Buffer.from('{"critical": nope');
    await add(junk, cosignSign(junk, ours.privateKey));
    await t.close();
    const v = await verifyCosign(ref, [ours.publicKey]);
    expect(v.signatures.map((s) => s.verified)).toEqual([true, false, false, false]);
    expect(v.signatures[1]!.reason).toMatch(/the payload is for sha256:0000/);
    expect(v.signatures[2]!.reason).toMatch(/not base64/);
    expect(v.signatures[3]!.reason).toMatch(/not JSON/);
  });
});
