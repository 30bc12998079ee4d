import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { verifyEnvelope } from '../../src/trust/index.ts';

// Cases A and D of test/fixtures/notary/README.md, through verifyEnvelope, at each stated level.
const V = join(import.meta.dirname, '../fixtures/notary');
const read = (p: string): Buffer => readFileSync(join(V, p));
const json = (p: string): Record<string, unknown> => JSON.parse(read(p).toString()) as Record<string, unknown>;
const JWS = 'application/jose+json';
const COSE = 'application/cose';
const STORE = join(V, 'truststore');

function atLevel(policy: Record<string, unknown>, level: 'strict' | 'permissive' | 'audit'): Record<string, unknown> {
  const p = structuredClone(policy) as { trustPolicies: Array<{ signatureVerification: { level: string } }> };
  for (const s of p.trustPolicies) s.signatureVerification.level = level;
  return p;
}

const netMonitor = json('subjects/mock_net_monitor.json') as {
  artifactReference: string;
  descriptor: { mediaType: string; digest: string; size: number };
};
const image942 = json('subjects/mock_test_image_942.json') as {
  artifactReference: string;
  descriptor: { mediaType: string; digest: string; size: number };
};
const alpine = json('subjects/alpine_oci_layout.json') as {
  artifactReference: string;
  descriptor: { mediaType: string; digest: string; size: number };
};

type Expect = { verified: boolean; failed?: string; logged?: string };
const S = 'strict' as const;
const P = 'permissive' as const;
const A = 'audit' as const;

async function run(
  file: string,
  policyFile: string,
  level: typeof S | typeof P | typeof A,
  opts: { mediaType?: string; subject?: typeof netMonitor; reference?: string } = {}
) {
  const subject = opts.subject ?? netMonitor;
  return verifyEnvelope({
    envelope: read(file),
    mediaType: opts.mediaType ?? JWS,
    subject: subject.descriptor,
    reference: opts.reference ?? subject.artifactReference,
    trustPolicy: atLevel(json(`trustpolicies/${policyFile}`), level),
    trustStore: STORE,
  });
}

function check(r: Awaited<ReturnType<typeof run>>, e: Expect): void {
  expect(r.verified, JSON.stringify(r.results)).toBe(e.verified);
  if (e.failed) {
    const f = r.results.find((x) => !x.ok && x.action === 'enforce');
    expect(f?.type, JSON.stringify(r.results)).toBe(e.failed);
  }
  if (e.logged)
    expect(
      r.results.some((x) => x.type === e.logged && !x.ok && x.action === 'log'),
      JSON.stringify(r.results)
    ).toBe(true);
}

describe('Notary Project vectors A (JWS over a descriptor)', () => {
  const table: Array<
    [
      id: string,
      file: string,
      policy: string,
      level: typeof S | typeof P | typeof A,
      expect: Expect,
      opts?: Parameters<typeof run>[3],
    ]
  > = [
    ['A1', 'jws/ca_valid_sig_env.json', 'mock_oci_policy.json', S, { verified: true }],
    ['A1', 'jws/ca_valid_sig_env.json', 'mock_oci_policy.json', P, { verified: true }],
    ['A1', 'jws/ca_valid_sig_env.json', 'mock_oci_policy.json', A, { verified: true }],
    ['A2', 'jws/sa_valid_sig_env.json', 'mock_oci_policy.json', S, { verified: true }],
    ['A2', 'jws/sa_valid_sig_env.json', 'mock_oci_policy.json', P, { verified: true }],
    ['A2', 'jws/sa_valid_sig_env.json', 'mock_oci_policy.json', A, { verified: true }],
    ['A3', 'jws/ca_invalid_sig_env.json', 'mock_oci_policy.json', S, { verified: false, failed: 'integrity' }],
    ['A3', 'jws/ca_invalid_sig_env.json', 'mock_oci_policy.json', P, { verified: false, failed: 'integrity' }],
    ['A3', 'jws/ca_invalid_sig_env.json', 'mock_oci_policy.json', A, { verified: false, failed: 'integrity' }],
    ['A4', 'jws/sa_invalid_sig_env.json', 'mock_oci_policy.json', S, { verified: false, failed: 'integrity' }],
    ['A4', 'jws/sa_invalid_sig_env.json', 'mock_oci_policy.json', P, { verified: false, failed: 'integrity' }],
    ['A4', 'jws/sa_invalid_sig_env.json', 'mock_oci_policy.json', A, { verified: false, failed: 'integrity' }],
    ['A5', 'jws/ca_expired_sig_env.json', 'mock_oci_policy.json', S, { verified: false, failed: 'expiry' }],
    ['A5', 'jws/ca_expired_sig_env.json', 'mock_oci_policy.json', P, { verified: true, logged: 'expiry' }],
    ['A5', 'jws/ca_expired_sig_env.json', 'mock_oci_policy.json', A, { verified: true, logged: 'expiry' }],
    ['A6', 'jws/sa_expired_sig_env.json', 'mock_oci_policy.json', S, { verified: false, failed: 'expiry' }],
    ['A6', 'jws/sa_expired_sig_env.json', 'mock_oci_policy.json', P, { verified: true, logged: 'expiry' }],
    ['A6', 'jws/sa_expired_sig_env.json', 'mock_oci_policy.json', A, { verified: true, logged: 'expiry' }],
    [
      'A7',
      'jws/ca_valid_sig_env.json',
      'mock_oci_policy_untrusted_store.json',
      S,
      { verified: false, failed: 'authenticity' },
    ],
    [
      'A7',
      'jws/ca_valid_sig_env.json',
      'mock_oci_policy_untrusted_store.json',
      P,
      { verified: false, failed: 'authenticity' },
    ],
    [
      'A7',
      'jws/ca_valid_sig_env.json',
      'mock_oci_policy_untrusted_store.json',
      A,
      { verified: true, logged: 'authenticity' },
    ],
    [
      'A8',
      'jws/ca_valid_sig_env.json',
      'mock_oci_policy_wrong_identity.json',
      S,
      { verified: false, failed: 'authenticity' },
    ],
    [
      'A8',
      'jws/ca_valid_sig_env.json',
      'mock_oci_policy_wrong_identity.json',
      P,
      { verified: false, failed: 'authenticity' },
    ],
    [
      'A8',
      'jws/ca_valid_sig_env.json',
      'mock_oci_policy_wrong_identity.json',
      A,
      { verified: true, logged: 'authenticity' },
    ],
    [
      'A9',
      'jws/ca_valid_sig_env.json',
      'mock_oci_policy.json',
      S,
      { verified: false, failed: 'policy' },
      { reference: `non-existent-domain.com/repo@${netMonitor.descriptor.digest}` },
    ],
    [
      'A10',
      'jws/ca_valid_sig_env.json',
      'mock_oci_policy.json',
      S,
      { verified: false, failed: 'payload' },
      { subject: image942, reference: `registry.acme-rockets.io/software/net-monitor@${image942.descriptor.digest}` },
    ],
    [
      'A10',
      'jws/ca_valid_sig_env.json',
      'mock_oci_policy.json',
      A,
      { verified: false, failed: 'payload' },
      { subject: image942, reference: `registry.acme-rockets.io/software/net-monitor@${image942.descriptor.digest}` },
    ],
  ];
  it.each(table)('%s %s with %s at %s', async (_id, file, policy, level, e, opts) => {
    check(await run(file, policy, level, opts ?? {}), e);
  });

  it('A8 names the trusted identity mismatch', async () => {
    const r = await run('jws/ca_valid_sig_env.json', 'mock_oci_policy_wrong_identity.json', S);
    expect(r.results.find((x) => !x.ok)?.message).toMatch(/does not match any trusted identity/);
  });
  it('A10 compares media type, digest and size', async () => {
    const r = await run('jws/ca_valid_sig_env.json', 'mock_oci_policy.json', S, {
      subject: image942,
      reference: `registry.acme-rockets.io/software/net-monitor@${image942.descriptor.digest}`,
    });
    expect(r.results.find((x) => !x.ok)?.message).toMatch(/content descriptor mismatch/);
    // every signature check passed before the payload comparison
    expect(r.results.filter((x) => x.type !== 'payload').every((x) => x.ok)).toBe(true);
  });
});

describe('Notary Project vectors D (JWS and COSE over a real manifest)', () => {
  it.each([
    ['D1', 'jws/alpine_oci_layout.jws.sig', JWS],
    ['D2', 'cose/alpine_oci_layout.cose.sig', COSE],
  ])('%s %s is valid at strict', async (_id, file, mt) => {
    const r = await run(file, 'alpine_policy.json', S, { mediaType: mt, subject: alpine });
    check(r, { verified: true });
  });
  it.each([
    ['D3/JWS', 'jws/alpine_oci_layout.jws.sig', JWS],
    ['D3/COSE', 'cose/alpine_oci_layout.cose.sig', COSE],
  ])('%s: the manifest altered by one byte no longer matches', async (_id, file, mt) => {
    const manifest = read(
      'oci-layout/alpine-notation-go/blobs/sha256/19dbd2e48e921426ee8ace4dc892edfb2ecdc1d1a72d5416c83670c30acecef0'
    );
    const altered = Buffer.from(manifest);
    altered[altered.length - 3] = altered[altered.length - 3]! ^ 1;
    const { createHash } = await import('node:crypto');
    const digest = `sha256:${createHash('sha256').update(altered).digest('hex')}`;
    const subject = {
      ...alpine,
      descriptor: { ...alpine.descriptor, digest },
      artifactReference: `local/oci-layout@${digest}`,
    };
    const r = await run(file, 'alpine_policy.json', S, { mediaType: mt, subject });
    check(r, { verified: false, failed: 'payload' });
  });
});
