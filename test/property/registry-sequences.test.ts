import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fsck, gc, startRegistry } from '../../src/server/index.ts';
import {
  EMPTY_CONFIG,
  IMAGE_INDEX,
  call,
  closeConnections,
  imageManifest,
  indexManifest,
  putManifest,
  pushBlob,
  schemaTag,
  sha,
  type Desc,
} from '../helpers/registry-http.ts';

/**
 * Random sequences of what clients do to a registry — pushes of blobs, images, indexes and
 * referrers (with the tag schema index beside, as clients without the referrers API keep it),
 * tags, deletes of tags, manifests and blobs (refused ones included), gc — against a real
 * server over HTTP. Whatever the sequence, the store ends whole: fsck finds nothing corrupt or
 * dangling. Along the way: a refused delete changes nothing, an accepted one leaves no referrer.
 */

const REPOS = ['team/a', 'team/b'];
const TAGS = ['v1', 'v2', 'latest'];
const CONTENTS = Array.from({ length: 5 }, (_, k) => Buffer.from(`content ${k} `.repeat(k + 1)));

type Op =
  | { kind: 'blob'; repo: number; content: number }
  | { kind: 'image'; repo: number; config: number; layers: number[]; pushBlobs: boolean; tag: number | null }
  | { kind: 'index'; repo: number; children: number[]; tag: number | null }
  | { kind: 'referrer'; repo: number; subject: number; schema: boolean }
  | { kind: 'tag'; repo: number; manifest: number; tag: number }
  | { kind: 'deleteTag'; repo: number; tag: number }
  | { kind: 'deleteManifest'; repo: number; manifest: number }
  | { kind: 'deleteBlob'; repo: number; content: number }
  | { kind: 'upload'; repo: number }
  | { kind: 'gc' };

const repo = fc.integer({ min: 0, max: REPOS.length - 1 });
const content = fc.integer({ min: 0, max: CONTENTS.length - 1 });
const pick = fc.nat(50);
const tag = fc.integer({ min: 0, max: TAGS.length - 1 });
const op: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('blob' as const), repo, content }), weight: 2 },
  {
    arbitrary: fc.record({
      kind: fc.constant('image' as const),
      repo,
      config: content,
      layers: fc.array(content, { minLength: 0, maxLength: 3 }),
      pushBlobs: fc.integer({ min: 0, max: 3 }).map((n) => n > 0), // mostly with its blobs
      tag: fc.option(tag, { nil: null }),
    }),
    weight: 4,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant('index' as const),
      repo,
      children: fc.array(pick, { minLength: 1, maxLength: 3 }),
      tag: fc.option(tag, { nil: null }),
    }),
    weight: 2,
  },
  {
    arbitrary: fc.record({ kind: fc.constant('referrer' as const), repo, subject: pick, schema: fc.boolean() }),
    weight: 3,
  },
  { arbitrary: fc.record({ kind: fc.constant('tag' as const), repo, manifest: pick, tag }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('deleteTag' as const), repo, tag }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('deleteManifest' as const), repo, manifest: pick }), weight: 4 },
  { arbitrary: fc.record({ kind: fc.constant('deleteBlob' as const), repo, content }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant('upload' as const), repo }), weight: 1 },
  { arbitrary: fc.constant({ kind: 'gc' as const }), weight: 2 }
);

interface Known {
  desc: Desc;
  bytes: Buffer;
}

async function run(host: string, root: string, ops: Op[]): Promise<void> {
  const known: Known[][] = REPOS.map(() => []);
  const choose = (r: number, i: number): Known | undefined =>
    known[r]!.length ? known[r]![i % known[r]!.length] : undefined;
  const record = (r: number, k: Known): void => {
    if (!known[r]!.some((x) => x.desc.digest === k.desc.digest)) known[r]!.push(k);
  };
  const referrersOf = async (name: string, digest: string): Promise<string[]> =>
    (
      JSON.parse((await call(host, 'GET', `/v2/${name}/referrers/${digest}`)).body.toString()) as {
        manifests: Desc[];
      }
    ).manifests.map((d) => d.digest);

  for (const o of ops) {
    if (o.kind === 'gc') {
      await gc(root, { graceMs: 0, uploadTtlMs: 0 });
      continue;
    }
    const name = REPOS[o.repo]!;
    switch (o.kind) {
      case 'blob':
        await pushBlob(host, name, CONTENTS[o.content]!);
        break;
      case 'upload':
        expect((await call(host, 'POST', `/v2/${name}/blobs/uploads/`)).status).toBe(202);
        break;
      case 'image': {
        const config = { ...blobDesc(o.config), mediaType: 'application/vnd.oci.image.config.v1+json' };
        const layers = o.layers.map(blobDesc);
        if (o.pushBlobs) for (const k of [o.config, ...o.layers]) await pushBlob(host, name, CONTENTS[k]!);
        const r = await putManifest(
          host,
          name,
          imageManifest(config, layers),
          o.tag === null ? undefined : TAGS[o.tag]
        );
        if (r.answer.status === 201) record(o.repo, r);
        else expect(r.answer.status).toBe(400); // a blob it names is not in the repository
        break;
      }
      case 'index': {
        const children = o.children.map((i) => choose(o.repo, i)).filter((k): k is Known => !!k);
        if (!children.length) break;
        const r = await putManifest(
          host,
          name,
          indexManifest(children.map((k) => plain(k.desc))),
          o.tag === null ? undefined : TAGS[o.tag]
        );
        if (r.answer.status === 201) record(o.repo, r);
        else expect(r.answer.status).toBe(400); // it lists a manifest deleted since
        break;
      }
      case 'referrer': {
        const subject = choose(o.repo, o.subject);
        if (!subject) break;
        const layer = await pushBlob(
          host,
          name,
          Buffer.from(`signature of ${subject.desc.digest} #${known[o.repo]!.length}`)
        );
        const r = await putManifest(
          host,
          name,
          imageManifest(EMPTY_CONFIG, [layer], {
            artifactType: 'application/vnd.test.signature',
            subject: plain(subject.desc),
          })
        );
        expect(r.answer.status).toBe(201);
        record(o.repo, r);
        if (o.schema) {
          // what a client without the referrers API does: read-modify-write of the sha256-<hex> tag
          const current = await call(host, 'GET', `/v2/${name}/manifests/${schemaTag(subject.desc.digest)}`, {
            headers: { accept: IMAGE_INDEX },
          });
          const list =
            current.status === 200 ? (JSON.parse(current.body.toString()) as { manifests: Desc[] }).manifests : [];
          const s = await putManifest(host, name, indexManifest([...list, r.desc]), schemaTag(subject.desc.digest));
          expect([201, 400]).toContain(s.answer.status);
        }
        break;
      }
      case 'tag': {
        const m = choose(o.repo, o.manifest);
        if (!m) break;
        const r = await putManifest(host, name, JSON.parse(m.bytes.toString()) as object, TAGS[o.tag]);
        expect([201, 400]).toContain(r.answer.status);
        break;
      }
      case 'deleteTag':
        expect([202, 404]).toContain((await call(host, 'DELETE', `/v2/${name}/manifests/${TAGS[o.tag]}`)).status);
        break;
      case 'deleteManifest': {
        const m = choose(o.repo, o.manifest);
        if (!m) break;
        const r = await call(host, 'DELETE', `/v2/${name}/manifests/${m.desc.digest}`);
        expect([202, 404, 409]).toContain(r.status);
        const after = await call(host, 'HEAD', `/v2/${name}/manifests/${m.desc.digest}`);
        if (r.status === 409) {
          expect(r.error?.code).toBe('DENIED');
          expect(after.status).toBe(200); // refused: still there
        } else {
          expect(after.status).toBe(404);
          // its referrers went with it (a 404 may have referrers: a subject need not be present)
          if (r.status === 202) expect(await referrersOf(name, m.desc.digest)).toEqual([]);
        }
        break;
      }
      case 'deleteBlob': {
        const d = blobDesc(o.content).digest;
        const r = await call(host, 'DELETE', `/v2/${name}/blobs/${d}`);
        expect([202, 404, 409]).toContain(r.status);
        const after = await call(host, 'HEAD', `/v2/${name}/blobs/${d}`);
        expect(after.status).toBe(r.status === 409 ? 200 : 404);
        break;
      }
    }
  }
  const report = await fsck(root);
  expect(report.corrupt).toEqual([]);
  expect(report.dangling).toEqual([]);
}

function blobDesc(k: number): Desc {
  const bytes = CONTENTS[k]!;
  return { mediaType: 'application/octet-stream', digest: sha(bytes), size: bytes.length };
}

function plain(d: Desc): Desc {
  return { mediaType: d.mediaType, digest: d.digest, size: d.size };
}

describe('registry: random sequences of pushes, tags, deletes and gc leave the store whole', () => {
  it('fsck is clean after every sequence', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 8, maxLength: 25, size: 'max' }), async (ops) => {
        const root = await mkdtemp(join(tmpdir(), 'signet-seq-'));
        const reg = await startRegistry({ root, addr: '127.0.0.1:0' });
        try {
          await run(reg.host, root, ops);
        } finally {
          await closeConnections();
          await reg.close();
          await rm(root, { recursive: true, force: true });
        }
      }),
      { numRuns: 30 }
    );
  }, 120_000);
});
