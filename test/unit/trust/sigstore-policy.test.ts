import { describe, expect, it } from 'vitest';
import { loadTrustPolicy } from '../../../src/trust/index.ts';

const doc = (sigstore: unknown, extra: Record<string, unknown> = {}) => ({
  version: '1.0',
  trustPolicies: [
    {
      name: 'app',
      registryScopes: ['registry.example.com/app'],
      signatureVerification: { level: 'strict' },
      sigstore,
      ...extra,
    },
  ],
});
const ISSUER = 'https://token.actions.githubusercontent.com';

describe('a trust policy statement\'s "sigstore" block', () => {
  it('a statement with only a sigstore block needs no trust stores; identities and keys are kept as written', () => {
    const st = loadTrustPolicy(
      doc({
        identities: [{ subjectRegExp: 'https://github\\.com/acme/.*', issuer: ISSUER }],
        keys: ['cosign.pub'],
        trustedRoot: 'trusted_root.json',
        trustedRootDigest: `sha256:${'a'.repeat(64)}`,
      })
    ).statements[0]!;
    expect(st.sigstore).toEqual({
      identities: [{ subjectRegExp: 'https://github\\.com/acme/.*', issuer: ISSUER }],
      keys: ['cosign.pub'],
      trustedRoot: 'trusted_root.json',
      trustedRootDigest: `sha256:${'a'.repeat(64)}`,
    });
    expect(st.trustStores).toEqual([]);
  });

  it.each([
    [{ identities: [{ subject: 'a@example.com' }] }, /exactly one of issuer and issuerRegExp/],
    [
      { identities: [{ subject: 'a', subjectRegExp: 'a', issuer: ISSUER }] },
      /exactly one of subject and subjectRegExp/,
    ],
    [{ identities: [{ subjectRegExp: '(', issuer: ISSUER }] }, /subjectRegExp "\(" is not valid RE2/],
    [{ identities: [{ subject: 'a', issuer: ISSUER, email: 'x' }] }, /Unrecognized key/],
    [{ keys: ['k.pub'], repository: 'elsewhere/app' }, /repository must be registry\/repository/],
    [{ keys: ['k.pub'], repository: 'reg.example.com/sigs:latest' }, /repository must be registry\/repository/],
    [{}, /names neither identities nor keys/],
    [{ keys: ['k.pub'], trustedRoot: 'r.json', trustedRootDigest: 'sha256:abc' }, /sha256:<64 hex digits>/],
  ])('refuses %j', (block, expected) => {
    expect(() => loadTrustPolicy(doc(block))).toThrow(expected);
  });

  it('repository: where the bundles live when not beside the image (registry/repository)', () => {
    const block = { keys: ['k.pub'], repository: 'reg.example.com/acme/signatures' };
    expect(loadTrustPolicy(doc(block)).statements[0]!.sigstore).toMatchObject({ repository: block.repository });
  });

  it('trustedRootDigest without trustedRoot: the root carried beside the artifact (signet copy --trusted-root), by digest', () => {
    const block = {
      identities: [{ subject: 'a@example.com', issuer: ISSUER }],
      trustedRootDigest: `sha256:${'b'.repeat(64)}`,
    };
    expect(loadTrustPolicy(doc(block)).statements[0]!.sigstore).toEqual({ ...block, keys: [] });
  });

  it('a skip statement cannot have one; trust stores without identities are still refused', () => {
    expect(() => loadTrustPolicy(doc({ keys: ['k.pub'] }, { signatureVerification: { level: 'skip' } }))).toThrow(
      /"skip" statement cannot have sigstore/
    );
    expect(() => loadTrustPolicy(doc({ keys: ['k.pub'] }, { trustStores: ['ca:x'] }))).toThrow(
      /trustedIdentities must not be empty/
    );
  });
});
