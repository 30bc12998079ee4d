import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cp, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runSignet } from '../helpers/serve.ts';

// Cases F of test/fixtures/notary/README.md: layouts made by the notation CLI, verified with
// `signet verify oci:<layout>:v1`, the exit code and the failed check checked.
const V = join(import.meta.dirname, '../fixtures/notary');

describe('Notary Project vectors F (OCI layouts made by notation)', () => {
  let home: string;
  let newStore: string;
  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'signet-f-'));
    newStore = join(home, 'new-store');
    await mkdir(join(newStore, 'x509', 'ca', 'e2e'), { recursive: true });
    await cp(join(V, 'certs', 'new_e2e.crt'), join(newStore, 'x509', 'ca', 'e2e', 'new_e2e.crt'));
  });
  afterAll(async () => rm(home, { recursive: true, force: true }));

  type Case = [id: string, layout: string, policy: string, store: 'base' | 'new', code: 0 | 1, reason?: RegExp];
  const cases: Case[] = [
    ['F1', 'e2e-valid-signature', 'e2e_trustpolicy', 'base', 0],
    ['F1', 'e2e-valid-signature', 'e2e_valid_trusted_identity_trustpolicy', 'base', 0],
    [
      'F2',
      'e2e-valid-signature',
      'e2e_invalid_trusted_identity_trustpolicy',
      'base',
      1,
      /authenticity check failed: .*does not match any trusted identity/,
    ],
    [
      'F3',
      'e2e-valid-signature',
      'e2e_trustpolicy',
      'new',
      1,
      /authenticity check failed: .*does not chain to any certificate/,
    ],
    ['F3', 'e2e-valid-signature', 'e2e_permissive_trustpolicy', 'new', 1, /authenticity check failed/],
    ['F3', 'e2e-valid-signature', 'e2e_audit_trustpolicy', 'new', 0],
    ['F3', 'e2e-valid-signature', 'e2e_override_strict_trustpolicy', 'new', 0],
    ['F3', 'e2e-valid-signature', 'e2e_override_permissive_trustpolicy', 'new', 0],
    ['F4', 'e2e-invalid-signature', 'e2e_trustpolicy', 'base', 1, /integrity check failed/],
    ['F4', 'e2e-invalid-signature', 'e2e_permissive_trustpolicy', 'base', 1, /integrity check failed/],
    ['F4', 'e2e-invalid-signature', 'e2e_audit_trustpolicy', 'base', 1, /integrity check failed/],
    ['F4', 'e2e-invalid-signature', 'e2e_skip_trustpolicy', 'base', 0],
    ['F5', 'e2e-expired-signature', 'e2e_trustpolicy', 'base', 1, /expiry check failed: digital signature has expired/],
    ['F5', 'e2e-expired-signature', 'e2e_override_permissive_trustpolicy', 'base', 1, /expiry check failed/],
    ['F5', 'e2e-expired-signature', 'e2e_override_audit_trustpolicy', 'base', 1, /expiry check failed/],
    ['F5', 'e2e-expired-signature', 'e2e_permissive_trustpolicy', 'base', 0],
    ['F5', 'e2e-expired-signature', 'e2e_audit_trustpolicy', 'base', 0],
    ['F5', 'e2e-expired-signature', 'e2e_override_strict_trustpolicy', 'base', 0],
    ['F7', 'e2e-valid-multiple-signatures', 'e2e_trustpolicy', 'base', 0],
    ['F10', 'e2e', 'e2e_trustpolicy', 'base', 1, /no Notary Project signature is associated with/],
  ];

  it.each(cases)('%s %s with %s (%s store) exits %i', async (_id, layout, policy, store, code, reason) => {
    const r = await runSignet(
      [
        'verify',
        `oci:${join(V, 'oci-layout', layout)}:v1`,
        '--policy',
        join(V, 'trustpolicies', `${policy}.json`),
        '--trust-store',
        store === 'base' ? join(V, 'truststore') : newStore,
      ],
      { env: { SIGNET_HOME: home } }
    );
    expect(r.code, r.stdout + r.stderr).toBe(code);
    if (reason) expect(r.stdout).toMatch(reason);
    if (code === 0) expect(r.stdout).toMatch(/✓ Verified/);
  });

  it('F5 at permissive logs the expiry as a warning', async () => {
    const r = await runSignet(
      [
        'verify',
        `oci:${join(V, 'oci-layout', 'e2e-expired-signature')}:v1`,
        '--policy',
        join(V, 'trustpolicies', 'e2e_permissive_trustpolicy.json'),
        '--trust-store',
        join(V, 'truststore'),
        '-o',
        'json',
      ],
      { env: { SIGNET_HOME: home } }
    );
    const [v] = JSON.parse(r.stdout) as Array<{
      verdict: string;
      signatures: Array<{ checks: Array<{ name: string; outcome: string }> }>;
    }>;
    expect(v!.verdict).toBe('verified');
    expect(v!.signatures[0]!.checks).toContainEqual(expect.objectContaining({ name: 'expiry', outcome: 'logged' }));
  });
});
