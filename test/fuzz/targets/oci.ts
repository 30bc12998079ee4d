/** OCI: references, manifests/indexes/descriptors, index.json of a layout, layout tars. */
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import tarStream from 'tar-stream';
import {
  formatReference,
  isValidDigest,
  isValidMediaType,
  MAX_MANIFEST_SIZE,
  MediaType,
  parseDescriptor,
  parseManifest,
  parseReference,
  REPO_NAME_RE,
  TAG_RE,
  type Descriptor,
} from '../../../src/oci/index.ts';
import { fetchManifest, openLayout, TarLayoutTarget } from '../../../src/store/index.ts';
import { expectModel, FIXTURES, isCodedSignetError, OracleViolation, type FuzzTarget } from '../harness.ts';
import { bytes, jsonInputs, mutatedBytes, seedsOf, textFrom, utf8 } from '../mutate.ts';

const LAYOUTS = join(FIXTURES, 'notary/oci-layout');

function validDescriptor(d: Descriptor, where: string): void {
  expectModel(isValidMediaType(d.mediaType), `${where}: mediaType ${d.mediaType}`);
  expectModel(isValidDigest(d.digest), `${where}: digest ${d.digest}`);
  expectModel(Number.isSafeInteger(d.size) && d.size >= 0, `${where}: size ${d.size}`);
  if (d.annotations)
    expectModel(
      Object.values(d.annotations).every((v) => typeof v === 'string'),
      `${where}: annotations`
    );
}

export const reference: FuzzTarget<null> = {
  name: 'reference',
  description: 'parseReference (registry host[:port]/repo[:tag][@digest] and oci: layouts)',
  setup: async () => null,
  arbitrary: () =>
    textFrom(
      [
        'oci:',
        'docker.io/',
        'localhost:5000/',
        '127.0.0.1:5000/',
        '[::1]:5000/',
        'library/',
        'alpine',
        'a/b/c',
        ':',
        '@',
        '/',
        '..',
        '.',
        '__',
        '--',
        'v1',
        ':latest',
        `@sha256:${'a'.repeat(64)}`,
        `@sha512:${'b'.repeat(128)}`,
        '@sha256:',
        'http://',
        'https://h:1/',
        'app/org.x/x86_64/stable',
        ':app/',
        './dir.tar',
        '~',
        'A',
        '\\',
      ],
      [
        'alpine',
        'docker.io/library/alpine:3.19',
        `localhost:5000/a/b@sha256:${'c'.repeat(64)}`,
        'oci:./layout:v1',
        `oci:https://example.com/layout@sha256:${'d'.repeat(64)}`,
        'oci:/tmp/x.tar:app/org.example.App/x86_64/stable',
      ]
    ),
  run(_ctx, input) {
    const ref = parseReference(utf8(input));
    if (ref.kind === 'registry') {
      expectModel(REPO_NAME_RE.test(ref.repository), `repository ${ref.repository}`);
      expectModel(ref.registry.length > 0, 'registry');
      if (ref.tag !== undefined) expectModel(TAG_RE.test(ref.tag), `tag ${ref.tag}`);
    } else expectModel(ref.path.length > 0, 'layout path');
    if (ref.digest !== undefined)
      expectModel(/^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/.test(ref.digest), `digest ${ref.digest}`);
    // the canonical form parses back to the same reference
    const again = parseReference(formatReference(ref));
    if (JSON.stringify(again) !== JSON.stringify(ref))
      throw new OracleViolation(
        `round trip: ${JSON.stringify(ref)} → ${formatReference(ref)} → ${JSON.stringify(again)}`
      );
  },
};

interface ManifestSeeds {
  docs: Array<{ json: unknown; mediaType: string }>;
}

function loadManifestSeeds(): ManifestSeeds {
  const docs: Array<{ json: unknown; mediaType: string }> = [];
  for (const layout of readdirSync(LAYOUTS)) {
    const blobs = join(LAYOUTS, layout, 'blobs/sha256');
    docs.push({
      json: JSON.parse(readFileSync(join(LAYOUTS, layout, 'index.json'), 'utf8')),
      mediaType: MediaType.ImageIndex,
    });
    let names: string[] = [];
    try {
      names = readdirSync(blobs);
    } catch {
      continue;
    }
    for (const b of names) {
      try {
        const j = JSON.parse(readFileSync(join(blobs, b), 'utf8')) as {
          schemaVersion?: number;
          manifests?: unknown;
          layers?: unknown;
        };
        if (j.schemaVersion !== 2) continue;
        docs.push({ json: j, mediaType: Array.isArray(j.manifests) ? MediaType.ImageIndex : MediaType.ImageManifest });
      } catch {
        // a layer or a signature envelope
      }
    }
  }
  return { docs };
}

const MANIFEST_TYPES = [
  MediaType.ImageManifest,
  MediaType.ImageIndex,
  MediaType.DockerManifest,
  'application/json',
  '',
];

export const manifest: FuzzTarget<ManifestSeeds> = {
  name: 'manifest',
  description: 'parseManifest (image manifests and indexes, as served under each media type) and parseDescriptor',
  setup: async () => loadManifestSeeds(),
  // first byte chooses the media type it is served as; the rest is the document
  arbitrary: (ctx) =>
    fc
      .tuple(fc.nat({ max: MANIFEST_TYPES.length - 1 }), jsonInputs(ctx.docs.map((d) => d.json)))
      .map(([t, b]) => new Uint8Array(Buffer.concat([Uint8Array.of(t), b]))),
  run(_ctx, input) {
    const mediaType = MANIFEST_TYPES[(input[0] ?? 0) % MANIFEST_TYPES.length]!;
    const body = input.subarray(1);
    // a descriptor anywhere in it (only in what parseManifest would read: the harness's own
    // JSON.parse of an oversized, deeply nested body was this target's slowest input by far)
    let json: unknown;
    try {
      json = body.length <= MAX_MANIFEST_SIZE ? JSON.parse(utf8(body)) : undefined;
    } catch {
      json = undefined;
    }
    if (json && typeof json === 'object') {
      for (const v of Object.values(json)) {
        try {
          validDescriptor(parseDescriptor(v), 'descriptor');
        } catch (err) {
          if (!isCodedSignetError(err)) throw err;
        }
      }
    }
    const m = parseManifest(body, mediaType);
    expectModel(m.schemaVersion === 2, 'schemaVersion');
    if ('manifests' in m && Array.isArray(m.manifests))
      m.manifests.forEach((d, i) => validDescriptor(d, `manifests[${i}]`));
    else {
      const im = m as { config: Descriptor; layers: Descriptor[] };
      validDescriptor(im.config, 'config');
      im.layers.forEach((d, i) => validDescriptor(d, `layers[${i}]`));
    }
    if (m.subject) validDescriptor(m.subject, 'subject');
  },
};

interface LayoutCtx {
  dir: string;
  seeds: unknown[];
  subjects: Descriptor[];
}

export const layoutIndex: FuzzTarget<LayoutCtx> = {
  name: 'layout-index',
  description: 'index.json of an OCI layout directory (openLayout → resolve, tags, referrers, fetchManifest)',
  weight: 2,
  async setup() {
    const dir = mkdtempSync(join(tmpdir(), 'signet-fuzz-layout-'));
    cpSync(join(LAYOUTS, 'e2e-valid-multiple-signatures'), dir, { recursive: true });
    const seeds = readdirSync(LAYOUTS).map(
      (l) => JSON.parse(readFileSync(join(LAYOUTS, l, 'index.json'), 'utf8')) as unknown
    );
    const subjects = (seeds[0] as { manifests: Descriptor[] }).manifests;
    return { dir, seeds, subjects };
  },
  async teardown(ctx) {
    rmSync(ctx.dir, { recursive: true, force: true });
  },
  arbitrary: (ctx) => jsonInputs(ctx.seeds),
  async run(ctx, input) {
    writeFileSync(join(ctx.dir, 'index.json'), input);
    const t = await openLayout(ctx.dir);
    try {
      const tags = await t.tags();
      expectModel(Array.isArray(tags) && tags.every((x) => typeof x === 'string'), 'tags');
      for (const tag of tags.slice(0, 3)) {
        const d = await t.resolve(tag);
        validDescriptor(d, `resolve(${tag})`);
        const { manifest: m } = await fetchManifest(t, d);
        expectModel(m.schemaVersion === 2, 'fetched manifest');
        for (const r of await t.referrers(d)) validDescriptor(r, 'referrer');
      }
    } finally {
      await t.close?.();
    }
  },
};

async function tarOf(
  entries: Array<{ name: string; body: Uint8Array; type?: 'file' | 'directory' | 'symlink'; linkname?: string }>
): Promise<Uint8Array> {
  const pack = tarStream.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((r) => pack.on('end', () => r()));
  for (const e of entries) {
    await new Promise<void>((res, rej) =>
      pack.entry(
        {
          name: e.name,
          size: e.type && e.type !== 'file' ? 0 : e.body.length,
          type: e.type ?? 'file',
          ...(e.linkname ? { linkname: e.linkname } : {}),
        },
        e.type && e.type !== 'file' ? '' : Buffer.from(e.body),
        (err) => (err ? rej(err) : res())
      )
    );
  }
  pack.finalize();
  await done;
  return new Uint8Array(Buffer.concat(chunks));
}

interface TarCtx {
  dir: string;
  seeds: Uint8Array[];
  files: Array<{ name: string; body: Uint8Array }>;
  n: number;
}

export const layoutTar: FuzzTarget<TarCtx> = {
  name: 'layout-tar',
  description: 'an OCI layout in a .tar (TarLayoutTarget.open → tags, resolve, fetchManifest)',
  weight: 3,
  async setup() {
    const dir = mkdtempSync(join(tmpdir(), 'signet-fuzz-tar-'));
    const files: Array<{ name: string; body: Uint8Array }> = [];
    const walk = (base: string, rel: string): void => {
      for (const e of readdirSync(join(base, rel), { withFileTypes: true })) {
        const r = rel ? `${rel}/${e.name}` : e.name;
        if (e.isDirectory()) walk(base, r);
        else files.push({ name: r, body: new Uint8Array(readFileSync(join(base, r))) });
      }
    };
    walk(join(LAYOUTS, 'e2e-valid-signature'), '');
    const seeds = [await tarOf(files)];
    return { dir, seeds, files, n: 0 };
  },
  async teardown(ctx) {
    rmSync(ctx.dir, { recursive: true, force: true });
  },
  arbitrary: (ctx) => {
    // structure-aware: the layout's files under hostile names, duplicated, as links, or with junk bodies
    const entry = fc.record({
      file: fc.nat({ max: ctx.files.length - 1 }),
      name: fc.oneof(
        fc.constant(null),
        fc.constantFrom(
          '../index.json',
          '/index.json',
          'index.json',
          './index.json',
          'blobs/sha256/../../index.json',
          'blobs/sha256/',
          'x'.repeat(300),
          'oci-layout'
        )
      ),
      type: fc.constantFrom<'file' | 'directory' | 'symlink'>('file', 'file', 'file', 'directory', 'symlink'),
      junk: fc.option(fc.uint8Array({ maxLength: 64 }), { nil: undefined }),
    });
    const structured = fc
      .array(entry, { minLength: 1, maxLength: 12 })
      .chain((es) => fc.constant(es).map((list) => ({ list })));
    return fc.oneof(
      { weight: 3, arbitrary: mutatedBytes(ctx.seeds) },
      { weight: 1, arbitrary: seedsOf(ctx.seeds) },
      {
        weight: 2,
        arbitrary: structured.map(({ list }) => {
          // encoded lazily by run(): a JSON description of the entries, prefixed with 'T'
          const desc = list.map((e) => ({
            f: e.file,
            n: e.name ?? ctx.files[e.file]!.name,
            t: e.type,
            j: e.junk ? Buffer.from(e.junk).toString('base64') : undefined,
          }));
          return bytes(`T${JSON.stringify(desc)}`);
        }),
      }
    );
  },
  async run(ctx, input) {
    let tar = input;
    if (input[0] === 0x54 /* T */) {
      let desc: Array<{ f: number; n: string; t: 'file' | 'directory' | 'symlink'; j?: string }> = [];
      try {
        desc = JSON.parse(utf8(input.subarray(1))) as typeof desc;
      } catch {
        desc = [];
      }
      if (Array.isArray(desc) && desc.length) {
        tar = await tarOf(
          desc.map((d) => ({
            name: String(d.n),
            body: d.j
              ? new Uint8Array(Buffer.from(d.j, 'base64'))
              : (ctx.files[Number(d.f) % ctx.files.length]?.body ?? new Uint8Array()),
            type: d.t,
            ...(d.t === 'symlink' ? { linkname: '/etc/passwd' } : {}),
          }))
        ).catch(() => input);
      }
    }
    const path = join(ctx.dir, `l${ctx.n++ % 4}.tar`);
    writeFileSync(path, tar);
    const t = await TarLayoutTarget.open(path);
    try {
      const tags = await t.tags();
      expectModel(Array.isArray(tags), 'tags');
      for (const tag of tags.slice(0, 3)) {
        const d = await t.resolve(tag);
        validDescriptor(d, `resolve(${tag})`);
        const { manifest: m } = await fetchManifest(t, d);
        expectModel(m.schemaVersion === 2, 'fetched manifest');
      }
    } finally {
      await t.close();
    }
  },
};
