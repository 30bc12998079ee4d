import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import bcrypt from 'bcryptjs';
import { MediaType, descriptorFor, encodeManifest, EMPTY_JSON, type Descriptor } from '../../src/oci/index.ts';
import type { KeyStore } from '../../src/pki/index.ts';
import { createAuthorizer } from '../../src/server/auth/index.ts';
import { startRegistry, type RunningRegistry } from '../../src/server/index.ts';
import { sign, signCosign } from '../../src/sign/index.ts';
import { staticCredentials } from '../../src/store/index.ts';
import { buildImage, skopeo } from '../helpers/images.ts';
import { cosign3KeySignArgs, peerTools } from '../helpers/peer-tools.ts';
import { trustSetup } from '../helpers/trust.ts';

const run = promisify(execFile);
const basic = (u: string): string => `Basic ${Buffer.from(`${u}:${u}-pw`).toString('base64')}`;

describe('the sign role: signers sign with every tool, and can do nothing else', () => {
  let work: string;
  let keys: KeyStore;
  let reg: RunningRegistry;
  let tools: { cosign: string; cosign3: string; oras: string };
  let ref: string;
  let digest: string;
  const signer = { open: { credentials: staticCredentials({ username: 'signer', password: 'signer-pw' }) } };

  const refs = async (): Promise<Descriptor[]> => {
    const r = await fetch(`http://${reg.host}/v2/team/app/referrers/${digest}`, {
      headers: { authorization: basic('reader') },
    });
    return ((await r.json()) as { manifests: Descriptor[] }).manifests;
  };
  const put = (path: string, body: Uint8Array, user = 'signer', type: string = MediaType.ImageManifest) =>
    fetch(`http://${reg.host}/v2/team/app/${path}`, {
      method: 'PUT',
      headers: { authorization: basic(user), 'content-type': type },
      body,
    });

  beforeAll(async () => {
    tools = await peerTools();
    work = await mkdtemp(join(tmpdir(), 'signet-signer-'));
    const setup = await trustSetup(work);
    keys = setup.keys;
    const users = Object.fromEntries(['admin', 'signer', 'reader'].map((u) => [u, bcrypt.hashSync(`${u}-pw`, 4)]));
    await writeFile(
      join(work, 'auth.json'),
      JSON.stringify({
        users,
        access: [
          { repository: 'team/*', users: ['admin'], actions: ['*'] },
          { repository: 'team/*', users: ['signer'], actions: ['pull', 'sign'] },
          { repository: 'team/*', users: ['reader'], actions: ['pull'] },
        ],
      })
    );
    reg = await startRegistry({
      addr: '127.0.0.1:0',
      root: join(work, 'root'),
      authorizer: await createAuthorizer(join(work, 'auth.json')),
      policy: { trustPolicy: setup.policy, trustStore: setup.store },
    });
    const image = await buildImage(work);
    const pushed = await skopeo([
      'copy',
      '--dest-tls-verify=false',
      '--dest-creds',
      'admin:admin-pw',
      `oci:${image}:v1`,
      `docker://${reg.host}/team/app:v1`,
    ]);
    expect(pushed.ok, pushed.out).toBe(true);
    const head = await fetch(`http://${reg.host}/v2/team/app/manifests/v1`, {
      method: 'HEAD',
      headers: { authorization: basic('reader'), accept: MediaType.ImageManifest },
    });
    digest = head.headers.get('docker-content-digest')!;
    ref = `${reg.host}/team/app@${digest}`;
    // cosign reads registry credentials from a docker config.
    await mkdir(join(work, 'docker'));
    await writeFile(
      join(work, 'docker', 'config.json'),
      JSON.stringify({ auths: { [reg.host]: { auth: Buffer.from('signer:signer-pw').toString('base64') } } })
    );
    await run(tools.cosign, ['generate-key-pair'], { cwd: work, env: { ...process.env, COSIGN_PASSWORD: '' } });
  }, 600_000);
  afterAll(async () => {
    await reg?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('a reader is denied the unsigned image; a signer reads it (to sign it)', async () => {
    const url = `http://${reg.host}/v2/team/app/manifests/v1`;
    const asReader = await fetch(url, { headers: { authorization: basic('reader'), accept: MediaType.ImageManifest } });
    expect(asReader.status).toBe(403);
    const asSigner = await fetch(url, { headers: { authorization: basic('signer'), accept: MediaType.ImageManifest } });
    expect(asSigner.status).toBe(200);
    expect(asSigner.headers.get('signet-verdict')).toBe('unsigned');
  });

  it('Signet signs as a signer (Notary JWS and COSE, cosign .sig tag); the tag schema index is writable', async () => {
    await sign(ref, { keyStore: keys, ...signer });
    await sign(ref, { keyStore: keys, signatureFormat: 'cose', ...signer });
    await signCosign(ref, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, signer);
    // What notation writes beside its signature on a registry without the referrers API: the
    // referrers tag schema index, by digest and then under the subject's sha256-<hex> tag.
    const listing = encodeManifest({ schemaVersion: 2, mediaType: MediaType.ImageIndex, manifests: await refs() });
    const listingDesc = descriptorFor(MediaType.ImageIndex, listing);
    expect((await put(`manifests/${listingDesc.digest}`, listing, 'signer', MediaType.ImageIndex)).status).toBe(201);
    const hexOf = digest.slice('sha256:'.length);
    expect((await put(`manifests/sha256-${hexOf}`, listing, 'signer', MediaType.ImageIndex)).status).toBe(201);
    // ... but not for a subject that is not here.
    const other = `sha256-${'0'.repeat(64)}`;
    expect((await put(`manifests/${other}`, listing, 'signer', MediaType.ImageIndex)).status).toBe(403);
    const tags = (await (
      await fetch(`http://${reg.host}/v2/team/app/tags/list`, { headers: { authorization: basic('reader') } })
    ).json()) as { tags: string[] };
    const hex = digest.slice('sha256:'.length);
    expect(tags.tags).toEqual(expect.arrayContaining(['v1', `sha256-${hex}`, `sha256-${hex}.sig`]));
    expect((await refs()).filter((r) => r.artifactType === 'application/vnd.cncf.notary.signature')).toHaveLength(2);
    // Now signed by a trusted key: the reader pulls it.
    const asReader = await fetch(`http://${reg.host}/v2/team/app/manifests/v1`, {
      headers: { authorization: basic('reader'), accept: MediaType.ImageManifest },
    });
    expect(asReader.status).toBe(200);
  }, 60_000);

  it('cosign 2.5, cosign 3 and oras attach succeed as a signer', async () => {
    const env = { ...process.env, COSIGN_PASSWORD: '', COSIGN_YES: 'true', DOCKER_CONFIG: join(work, 'docker') };
    await run(tools.cosign, ['sign', '--key', 'cosign.key', '--tlog-upload=false', '--allow-insecure-registry', ref], {
      cwd: work,
      env,
    });
    await run(tools.cosign3, cosign3KeySignArgs(ref), { cwd: work, env });
    await writeFile(join(work, 'sbom.json'), '{"spdxVersion":"SPDX-2.3"}');
    await run(
      tools.oras,
      [
        'attach',
        '--plain-http',
        '-u',
        'signer',
        '-p',
        'signer-pw',
        '--artifact-type',
        'application/spdx+json',
        ref,
        'sbom.json:application/spdx+json',
      ],
      { cwd: work }
    );
    const types = (await refs()).map((r) => r.artifactType);
    expect(types).toEqual(
      expect.arrayContaining(['application/vnd.dev.sigstore.bundle.v0.3+json', 'application/spdx+json'])
    );
  }, 120_000);

  it('a signer cannot move a tag, create another tag, push a manifest without a subject, or delete', async () => {
    const config = Buffer.from('{}');
    const noSubject = encodeManifest({
      schemaVersion: 2,
      mediaType: MediaType.ImageManifest,
      config: EMPTY_JSON,
      layers: [EMPTY_JSON],
    });
    expect(config.length).toBe(2);
    const d = descriptorFor(MediaType.ImageManifest, noSubject);
    const byDigest = await put(`manifests/${d.digest}`, noSubject);
    expect(byDigest.status).toBe(403);
    expect(await byDigest.text()).toMatch(/only manifests that carry a subject/);
    const move = await put('manifests/v1', noSubject);
    expect(move.status).toBe(403);
    const withSubject = encodeManifest({
      schemaVersion: 2,
      mediaType: MediaType.ImageManifest,
      artifactType: 'application/vnd.example',
      config: EMPTY_JSON,
      layers: [EMPTY_JSON],
      subject: { mediaType: MediaType.ImageManifest, digest, size: 1 },
    });
    const newTag = await put('manifests/latest', withSubject);
    expect(newTag.status).toBe(403);
    expect(await newTag.text()).toMatch(/may not write tag latest/);
    const del = await fetch(`http://${reg.host}/v2/team/app/manifests/${digest}`, {
      method: 'DELETE',
      headers: { authorization: basic('signer') },
    });
    expect([401, 403]).toContain(del.status);
    // The tag still names the image.
    const head = await fetch(`http://${reg.host}/v2/team/app/manifests/v1`, {
      method: 'HEAD',
      headers: { authorization: basic('reader'), accept: MediaType.ImageManifest },
    });
    expect(head.headers.get('docker-content-digest')).toBe(digest);
    // The same pushes as admin (push rights) are accepted: the refusals are the role's, not the bytes'.
    expect((await put(`manifests/${d.digest}`, noSubject, 'admin')).status).toBe(201);
  });
});
