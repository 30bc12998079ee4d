import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  digestOf,
  encodeManifest,
  formatReference,
  isValidDigest,
  parseDigest,
  parseLayoutReference,
  parseManifest,
  parseReference,
  parseRegistryReference,
  MediaType,
  type ImageManifest,
} from '../../src/oci/index.ts';

const component = fc
  .array(fc.stringMatching(/^[a-z0-9]{1,6}$/), { minLength: 1, maxLength: 3 })
  .chain((parts) =>
    fc
      .array(fc.constantFrom('.', '_', '__', '-', '--'), { minLength: parts.length - 1, maxLength: parts.length - 1 })
      .map((seps) => parts.map((p, i) => (i === 0 ? p : `${seps[i - 1]}${p}`)).join(''))
  );
const repository = fc.array(component, { minLength: 1, maxLength: 4 }).map((c) => c.join('/'));
const tag = fc.stringMatching(/^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,40}$/);
const host = fc
  .tuple(
    fc.stringMatching(/^[a-z][a-z0-9-]{0,10}[a-z0-9]$/),
    fc.constantFrom('.com', '.io', '.local'),
    fc.option(fc.integer({ min: 1, max: 65535 }))
  )
  .map(([h, d, p]) => `${h}${d}${p ? `:${p}` : ''}`);
const sha256 = fc.uint8Array({ minLength: 1, maxLength: 64 }).map((b) => digestOf(b));

describe('property: digests', () => {
  it('every computed digest parses and round-trips', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 256 }),
        fc.constantFrom('sha256' as const, 'sha512' as const),
        (bytes, alg) => {
          const d = digestOf(bytes, alg);
          const p = parseDigest(d);
          expect(`${p.algorithm}:${p.hex}`).toBe(d);
        }
      )
    );
  });
  it('any mutation of the hex length or case is rejected', () => {
    fc.assert(
      fc.property(sha256, fc.integer({ min: 1, max: 63 }), (d, cut) => {
        expect(isValidDigest(d.slice(0, 7 + cut))).toBe(false);
        expect(isValidDigest(d + 'a')).toBe(false);
        expect(isValidDigest(d.replace('sha256:', 'SHA256:'))).toBe(false);
      })
    );
  });
  it('arbitrary strings never throw anything but a DIGEST_INVALID error', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        try {
          parseDigest(s);
        } catch (err) {
          expect((err as { code: string }).code).toBe('DIGEST_INVALID');
        }
      })
    );
  });
});

describe('property: references', () => {
  it('registry references round-trip through format and parse', () => {
    fc.assert(
      fc.property(host, repository, fc.option(tag), fc.option(sha256), (h, repo, t, d) => {
        const input = `${h}/${repo}${t ? `:${t}` : ''}${d ? `@${d}` : ''}`;
        const ref = parseRegistryReference(input);
        expect(ref.registry).toBe(h);
        expect(ref.repository).toBe(repo);
        expect(ref.tag).toBe(t ?? undefined);
        expect(ref.digest).toBe(d ?? undefined);
        expect(formatReference(ref)).toBe(input);
        expect(parseReference(formatReference(ref))).toEqual(ref);
      })
    );
  });
  it('Docker Hub short names expand to docker.io/library', () => {
    fc.assert(
      fc.property(component, fc.option(tag), (name, t) => {
        const ref = parseRegistryReference(`${name}${t ? `:${t}` : ''}`);
        expect(ref.registry).toBe('docker.io');
        expect(ref.repository).toBe(`library/${name}`);
      })
    );
  });
  it('layout references keep paths and URLs intact', () => {
    const path = fc
      .array(fc.stringMatching(/^[A-Za-z0-9._-]{1,8}$/), { minLength: 1, maxLength: 4 })
      .map((p) => `/${p.join('/')}`);
    const url = fc
      .tuple(fc.constantFrom('http', 'https'), fc.integer({ min: 1, max: 65535 }), path)
      .map(([s, p, pa]) => `${s}://127.0.0.1:${p}${pa}`);
    fc.assert(
      fc.property(fc.oneof(path, url), fc.option(tag), fc.option(sha256), (p, t, d) => {
        const input = `oci:${p}${d ? `@${d}` : t ? `:${t}` : ''}`;
        const ref = parseLayoutReference(input);
        expect(ref.path).toBe(p);
        if (d) expect(ref.digest).toBe(d);
        else expect(ref.tag).toBe(t ?? undefined);
        expect(formatReference(ref)).toBe(input);
      })
    );
  });
  it('upper-case, empty or traversal repository names are rejected', () => {
    for (const bad of [
      '127.0.0.1:5000/App',
      '127.0.0.1:5000/a/../b',
      '127.0.0.1:5000/',
      '127.0.0.1:5000/a//b',
      '127.0.0.1:5000/-a',
      'x.io/a:' + 'b'.repeat(129),
    ]) {
      expect(() => parseRegistryReference(bad), bad).toThrow();
    }
  });
});

describe('property: manifests', () => {
  const descriptor = fc.record({
    mediaType: fc.constantFrom(MediaType.ImageLayerGzip, MediaType.OctetStream, 'application/vnd.example+json'),
    digest: sha256,
    size: fc.nat({ max: 1 << 30 }),
  });
  const annotations = fc.dictionary(fc.stringMatching(/^[a-z.]{1,12}$/), fc.string({ maxLength: 20 }), { maxKeys: 3 });
  it('manifests round-trip through encode and parse, unknown fields kept', () => {
    fc.assert(
      fc.property(
        descriptor,
        fc.array(descriptor, { maxLength: 4 }),
        fc.option(descriptor),
        annotations,
        fc.option(fc.constantFrom('application/vnd.example.sig', 'application/vnd.cncf.notary.signature')),
        (config, layers, subject, ann, artifactType) => {
          const m: ImageManifest & { 'x-extra'?: string } = {
            schemaVersion: 2,
            mediaType: MediaType.ImageManifest,
            config,
            layers,
            'x-extra': 'kept',
          };
          if (artifactType) m.artifactType = artifactType;
          if (subject) m.subject = { ...subject, mediaType: MediaType.ImageManifest };
          if (Object.keys(ann).length) m.annotations = ann;
          const bytes = encodeManifest(m);
          const parsed = parseManifest(bytes, MediaType.ImageManifest);
          expect(parsed).toEqual(m);
          // Received bytes are never re-serialised (digests cover the bytes), but a re-encode must mean the same.
          expect(parseManifest(encodeManifest(parsed), MediaType.ImageManifest)).toEqual(m);
        }
      )
    );
  });
  it('a manifest served as another media type is refused', () => {
    const bytes = encodeManifest({ schemaVersion: 2, mediaType: MediaType.ImageIndex, manifests: [] });
    expect(() => parseManifest(bytes, MediaType.ImageManifest)).toThrow(/differs/);
    expect(() =>
      parseManifest(Buffer.from('{"schemaVersion":1,"layers":[],"config":{}}'), MediaType.ImageManifest)
    ).toThrow(/schemaVersion/);
  });
});
