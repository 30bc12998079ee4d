import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { createAuthorizer } from '../../src/server/auth/index.ts';
import { buildImage, skopeo } from '../helpers/images.ts';
import { startServe, type Served } from '../helpers/serve.ts';

async function blobDigests(layout: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const hex of await readdir(join(layout, 'blobs', 'sha256'))) {
    const bytes = await readFile(join(layout, 'blobs', 'sha256', hex));
    out.set(hex, createHash('sha256').update(bytes).digest('hex'));
  }
  return out;
}

async function rootManifestDigest(layout: string): Promise<string> {
  const idx = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as {
    manifests: Array<{ digest: string }>;
  };
  return idx.manifests[0]!.digest;
}

describe('skopeo against signet serve', () => {
  let work: string;
  let image: string;
  let serve: Served;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'signet-skopeo-'));
    image = await buildImage(work);
    serve = await startServe();
  });
  afterAll(async () => {
    await serve?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('pushes an umoci image and pulls it back byte-identical', async () => {
    const push = await skopeo([
      'copy',
      '--dest-tls-verify=false',
      `oci:${image}:v1`,
      `docker://${serve.host}/test/img:v1`,
    ]);
    expect(push.out).toContain('Writing manifest');
    expect(push.ok).toBe(true);
    const back = join(work, 'back');
    const pull = await skopeo([
      'copy',
      '--src-tls-verify=false',
      `docker://${serve.host}/test/img:v1`,
      `oci:${back}:v1`,
    ]);
    expect(pull.ok).toBe(true);
    expect(await rootManifestDigest(back)).toBe(await rootManifestDigest(image));
    const b = await blobDigests(back);
    for (const [hex, actual] of b) expect(actual).toBe(hex); // every pulled blob matches its name
    // ...and they are exactly the blobs of the pushed image (umoci's layout also keeps old ones)
    const root = (await rootManifestDigest(image)).slice(7);
    const m = JSON.parse(await readFile(join(image, 'blobs', 'sha256', root), 'utf8')) as {
      config: { digest: string };
      layers: Array<{ digest: string }>;
    };
    const reachable = [root, m.config.digest.slice(7), ...m.layers.map((l) => l.digest.slice(7))];
    expect([...b.keys()].sort()).toEqual(reachable.sort());
    for (const hex of reachable)
      expect(
        (await readFile(join(back, 'blobs', 'sha256', hex))).equals(await readFile(join(image, 'blobs', 'sha256', hex)))
      ).toBe(true);
    expect(m.layers.length).toBe(1);
  });

  it('skopeo inspect and list-tags work', async () => {
    await skopeo(['copy', '--dest-tls-verify=false', `oci:${image}:v1`, `docker://${serve.host}/test/img:v2`]);
    const inspect = await skopeo(['inspect', '--tls-verify=false', `docker://${serve.host}/test/img:v1`]);
    expect(inspect.ok).toBe(true);
    const j = JSON.parse(inspect.out) as { Digest: string; Labels: Record<string, string> };
    expect(j.Digest).toBe(await rootManifestDigest(image));
    expect(j.Labels['org.example']).toBe('signet-test');
    const tags = await skopeo(['list-tags', '--tls-verify=false', `docker://${serve.host}/test/img`]);
    expect(tags.ok).toBe(true);
    expect((JSON.parse(tags.out) as { Tags: string[] }).Tags.sort()).toEqual(['v1', 'v2']);
  });

  describe('with --auth', () => {
    let authed: Served;
    beforeAll(async () => {
      const cfg = join(work, 'auth.json');
      await writeFile(
        cfg,
        JSON.stringify({
          users: { alice: bcrypt.hashSync('wonderland', 10), bob: bcrypt.hashSync('builder', 10) },
          access: [
            { repository: 'team/*', users: ['alice'], actions: ['pull', 'push', 'delete'] },
            { repository: 'team/*', users: ['bob'], actions: ['pull'] },
          ],
        })
      );
      authed = await startServe({ authorizer: await createAuthorizer(cfg) });
    });
    afterAll(async () => authed?.close());

    it('skopeo with --dest-creds pushes; without credentials it is refused', async () => {
      const ok = await skopeo([
        'copy',
        '--dest-tls-verify=false',
        '--dest-creds',
        'alice:wonderland',
        `oci:${image}:v1`,
        `docker://${authed.host}/team/app:v1`,
      ]);
      expect(ok.out).toContain('Writing manifest');
      expect(ok.ok).toBe(true);
      const anon = await skopeo([
        'copy',
        '--dest-tls-verify=false',
        `oci:${image}:v1`,
        `docker://${authed.host}/team/app:v2`,
      ]);
      expect(anon.ok).toBe(false);
      expect(anon.out.toLowerCase()).toMatch(/unauthorized|authentication required|denied/);
      const wrong = await skopeo([
        'copy',
        '--dest-tls-verify=false',
        '--dest-creds',
        'alice:nope',
        `oci:${image}:v1`,
        `docker://${authed.host}/team/app:v3`,
      ]);
      expect(wrong.ok).toBe(false);
    });

    it('a user with pull rights can inspect but not push', async () => {
      const inspect = await skopeo([
        'inspect',
        '--tls-verify=false',
        '--creds',
        'bob:builder',
        `docker://${authed.host}/team/app:v1`,
      ]);
      expect(inspect.ok).toBe(true);
      expect((JSON.parse(inspect.out) as { Digest: string }).Digest).toBe(await rootManifestDigest(image));
      const push = await skopeo([
        'copy',
        '--dest-tls-verify=false',
        '--dest-creds',
        'bob:builder',
        `oci:${image}:v1`,
        `docker://${authed.host}/team/app:bob`,
      ]);
      expect(push.ok).toBe(false);
      const tags = await skopeo([
        'list-tags',
        '--tls-verify=false',
        '--creds',
        'alice:wonderland',
        `docker://${authed.host}/team/app`,
      ]);
      expect((JSON.parse(tags.out) as { Tags: string[] }).Tags).toEqual(['v1']);
    });
  });
});
