import { describe, expect, it } from 'vitest';
import {
  FLATPAK_REF_RE,
  isValidLayoutRefName,
  isValidRepository,
  parseReference,
  REPOSITORY_RE,
  validateTag,
} from '../../../src/oci/reference.ts';
import { exitCodeFor } from '../../../src/util/index.ts';

const DIGEST = `sha256:${'a'.repeat(64)}`;

/** The error a parse throws (the test fails when it does not throw). */
function parseError(input: string): { code: string; kind: string; message: string; exit: number } {
  try {
    parseReference(input);
  } catch (err) {
    const e = err as { code: string; kind: string; message: string };
    return { code: e.code, kind: e.kind, message: e.message, exit: exitCodeFor(err) };
  }
  throw new Error(`${input} parsed`);
}

describe('references', () => {
  it('parses registry and layout references', () => {
    const registry = { kind: 'registry', registry: '127.0.0.1:5000', repository: 'demo/app' };
    expect(parseReference('127.0.0.1:5000/demo/app:v1')).toEqual({ ...registry, tag: 'v1' });
    expect(parseReference(`127.0.0.1:5000/demo/app@${DIGEST}`)).toEqual({ ...registry, digest: DIGEST });
    expect(parseReference('alpine')).toEqual({ kind: 'registry', registry: 'docker.io', repository: 'library/alpine' });
    expect(parseReference('oci:./airgap.tar:v1')).toEqual({ kind: 'layout', path: './airgap.tar', tag: 'v1' });
    expect(parseReference(`oci:/tmp/dir@${DIGEST}`)).toEqual({ kind: 'layout', path: '/tmp/dir', digest: DIGEST });
    const http = { kind: 'layout', path: 'http://127.0.0.1:8080/layout' };
    expect(parseReference('oci:http://127.0.0.1:8080/layout:v2')).toEqual({ ...http, tag: 'v2' });
    expect(parseReference('oci:http://127.0.0.1:8080/layout')).toEqual(http);
  });

  it('takes one ref grammar for layouts: OCI tags and Flatpak refs', () => {
    const app = 'app/org.x.App/x86_64/stable';
    const runtime = 'runtime/org.x.Platform/aarch64/23.08';
    expect(parseReference(`oci:./bundle:${app}`)).toEqual({ kind: 'layout', path: './bundle', tag: app });
    expect(parseReference(`oci:/srv/l.tar:${runtime}`)).toEqual({ kind: 'layout', path: '/srv/l.tar', tag: runtime });
    expect(isValidLayoutRefName('v1.0_rc-2')).toBe(true);
    expect(isValidLayoutRefName('app/org.x.App/x86_64/stable')).toBe(true);
    expect(isValidLayoutRefName('app/org.x.App')).toBe(false);
    expect(isValidLayoutRefName('-v1')).toBe(false);
    expect(FLATPAK_REF_RE.test('runtime/a/b/c')).toBe(true);
    for (const bad of ['oci:./bundle:app/org.x.App', 'oci:./bundle:app/a/b/c/d', 'oci:./dir:-v1', 'oci:./dir:v!']) {
      expect(parseError(bad)).toMatchObject({ code: 'TAG_INVALID', kind: 'usage', exit: 2 });
    }
    // registries take OCI tags only
    const refused = expect.objectContaining({ code: 'TAG_INVALID', kind: 'usage' });
    expect(() => validateTag('app/org.x.App/x86_64/stable')).toThrow(refused);
  });

  it('refuses malformed references as usage errors (exit 2)', () => {
    expect(parseError('http://127.0.0.1:5000/demo/app:v1')).toMatchObject({ code: 'REFERENCE_INVALID', exit: 2 });
    expect(parseError('http://127.0.0.1:5000/demo/app:v1').message).toContain('write 127.0.0.1:5000/demo/app:v1');
    expect(parseError('127.0.0.1:5000/Demo/app:v1')).toMatchObject({ code: 'NAME_INVALID', exit: 2 });
    expect(parseError('127.0.0.1:5000/demo/app@sha256:abc')).toMatchObject({ code: 'DIGEST_INVALID', exit: 2 });
    expect(parseError('oci:./dir@sha256:abc')).toMatchObject({ code: 'DIGEST_INVALID', exit: 2 });
    expect(parseError('127.0.0.1:5000/demo/app:-bad')).toMatchObject({ code: 'TAG_INVALID', exit: 2 });
    expect(parseError('exa mple/app')).toMatchObject({ code: 'REFERENCE_INVALID', exit: 2 });
    expect(parseError('')).toMatchObject({ code: 'REFERENCE_INVALID', exit: 2 });
    expect(parseError('oci:')).toMatchObject({ code: 'REFERENCE_INVALID', exit: 2 });
  });

  it('tells a path without oci: to be written with it', () => {
    for (const p of ['./airgap.tar:v1', '/tmp/x', '../dir', '.', '~/layouts/app:v1']) {
      const e = parseError(p);
      expect(e).toMatchObject({ code: 'REFERENCE_INVALID', kind: 'usage', exit: 2 });
      expect(e.message).toContain(`write oci:${p}`);
    }
  });

  it('exports one repository-name grammar', () => {
    for (const ok of ['a', 'demo/app', 'a.b_c__d---e/f0', 'library/alpine']) {
      expect(isValidRepository(ok)).toBe(true);
      expect(REPOSITORY_RE.test(ok)).toBe(true);
    }
    for (const bad of ['', 'Demo/app', 'a//b', '/a', 'a/', 'a..b', 'a-', '-a', 'a___b', `${'a'.repeat(256)}`]) {
      expect(isValidRepository(bad)).toBe(false);
    }
  });
});
