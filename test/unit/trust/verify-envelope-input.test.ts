import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { verifyEnvelope } from '../../../src/trust/index.ts';
import { SignetError } from '../../../src/util/index.ts';

// Vector A5 (an expired JWS signature) with inputs a webhook might pass by mistake: each must be a
// coded error, never a verification with some checks silently disabled.
const V = join(import.meta.dirname, '../../fixtures/notary');
const json = (p: string): Record<string, unknown> =>
  JSON.parse(readFileSync(join(V, p), 'utf8')) as Record<string, unknown>;
const subject = json('subjects/mock_net_monitor.json') as {
  artifactReference: string;
  descriptor: { mediaType: string; digest: string; size: number };
};
const input = () => ({
  envelope: readFileSync(join(V, 'jws/ca_expired_sig_env.json')),
  mediaType: 'application/jose+json',
  subject: subject.descriptor,
  reference: subject.artifactReference,
  trustPolicy: json('trustpolicies/mock_oci_policy.json'),
  trustStore: join(V, 'truststore'),
});

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(SignetError);
    return `${(err as SignetError).code}/${(err as SignetError).kind}`;
  }
  return 'resolved';
}

describe('verifyEnvelope refuses unusable input with a coded error', () => {
  it('the expired signature fails expiry with a real clock (the control)', async () => {
    const r = await verifyEnvelope(input());
    expect(r.verified).toBe(false);
    expect(r.results.find((x) => !x.ok)?.type).toBe('expiry');
  });

  it('an invalid date for `now` is refused instead of disabling the time checks', async () => {
    expect(await codeOf(verifyEnvelope({ ...input(), now: new Date('x') }))).toBe('INPUT_INVALID/usage');
    expect(await codeOf(verifyEnvelope({ ...input(), now: 'yesterday' as unknown as Date }))).toBe(
      'INPUT_INVALID/usage'
    );
  });

  it('null, undefined and non-objects are refused', async () => {
    for (const bad of [null, undefined, 42, 'envelope', []]) {
      expect(await codeOf(verifyEnvelope(bad as never))).toBe('INPUT_INVALID/usage');
    }
    expect(await codeOf(verifyEnvelope({ ...input(), trustPolicy: null as never }))).toBe('INPUT_INVALID/usage');
    expect(await codeOf(verifyEnvelope({ ...input(), trustStore: 7 as never }))).toBe('INPUT_INVALID/usage');
  });
});

describe('verifyEnvelope and a trust policy object reused between calls', () => {
  it('sees the object changed in place', async () => {
    const i = input();
    const policy = i.trustPolicy as { trustPolicies: Array<{ registryScopes: string[] }> };
    expect((await verifyEnvelope(i)).results.find((x) => !x.ok)?.type).toBe('expiry');
    // no statement applies any more
    policy.trustPolicies[0]!.registryScopes[0] = 'registry.example/other';
    const none = await verifyEnvelope(i);
    expect(none.verified).toBe(false);
    expect(none.results).toEqual([expect.objectContaining({ type: 'policy', ok: false })]);
    // as it was
    policy.trustPolicies[0]!.registryScopes[0] = subject.artifactReference.split('@')[0]!;
    expect((await verifyEnvelope(i)).results.find((x) => !x.ok)?.type).toBe('expiry');
    // made invalid: refused as a document that was never seen would be
    (policy.trustPolicies[0] as Record<string, unknown>).signatureVerification = { level: 'nonsense' };
    expect(await codeOf(verifyEnvelope(i))).toMatch(/^POLICY_INVALID\//);
  });
});
