import { describe, expect, it } from 'vitest';
import { loadTrustPolicy, mappedName } from '../../../src/trust/index.ts';

const base = {
  name: 'acme',
  registryScopes: ['*'],
  signatureVerification: { level: 'strict' },
  trustStores: ['ca:t'],
  trustedIdentities: ['*'],
};
const load = (extra: Record<string, unknown>) =>
  loadTrustPolicy({ version: '1.0', trustPolicies: [{ ...base, ...extra }] }).statements[0]!;

describe('trust policy: nameBinding and names (Layer A)', () => {
  it('accepts strict and compat, and keeps the names in the order written', () => {
    const st = load({
      nameBinding: 'strict',
      names: { 'mirror.local/acme/*': 'acme/*', 'oci:/srv/layouts/**': 'acme/app', 'r.example/x/y': 'acme/y' },
    });
    expect(st.nameBinding).toBe('strict');
    expect(st.names?.map((n) => n.location)).toEqual(['mirror.local/acme/*', 'oci:/srv/layouts/**', 'r.example/x/y']);
    expect(load({ nameBinding: 'compat' }).nameBinding).toBe('compat');
    expect(load({}).nameBinding).toBeUndefined();
  });

  it('refuses unknown values, unknown fields, misspellings and bad names', () => {
    expect(() => load({ nameBinding: 'lenient' })).toThrow(/nameBinding/);
    expect(() => load({ nameBindings: 'strict' })).toThrow(/nameBindings|Unrecognized/);
    expect(() => load({ names: { 'a.example/x/*': 'Acme/*' } })).toThrow(/not a repository path/);
    expect(() => load({ names: { 'a.example/x/y': 'acme/*' } })).toThrow(/only once/);
    expect(() => load({ names: { 'a.example/*/*': 'acme/*' } })).toThrow(/only once/);
    expect(() =>
      loadTrustPolicy({
        version: '1.0',
        trustPolicies: [
          { name: 's', registryScopes: ['*'], signatureVerification: { level: 'skip' }, nameBinding: 'strict' },
        ],
      })
    ).toThrow(/skip/);
  });

  it('maps locations to logical names: first match, wildcard carried over, none without a match', () => {
    const st = load({
      names: {
        'mirror.local/acme/*': 'acme/*',
        'mirror.local/**': 'other/all',
        'oci:/srv/layouts/*': 'acme/app',
      },
    });
    expect(mappedName(st, ['mirror.local/acme/app'])).toBe('acme/app');
    expect(mappedName(st, ['mirror.local/acme/team/app'])).toBe('other/all');
    expect(mappedName(st, ['oci:relative', 'oci:/srv/layouts/app-1'])).toBe('acme/app');
    expect(mappedName(st, ['elsewhere.io/acme/app'])).toBeUndefined();
  });
});
