import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KeyStore, toPem } from '../../src/pki/index.ts';

/**
 * A signing setup under `work`: a key store with a root CA and a default leaf it issued, a trust
 * store `ca:t` holding the root, and a strict `*` trust policy file trusting any of its signers.
 */
export async function trustSetup(work: string): Promise<{ keys: KeyStore; store: string; policy: string }> {
  const keys = new KeyStore(join(work, 'home'));
  const root = await keys.generate('root', { type: 'ecdsa-p256', ca: true, subject: 'CN=R,O=T,ST=WA,C=US' });
  await keys.generate('leaf', { type: 'ecdsa-p256', issuer: 'root', subject: 'CN=L,O=T,ST=WA,C=US', isDefault: true });
  const store = join(work, 'store');
  await mkdir(join(store, 'x509', 'ca', 't'), { recursive: true });
  await writeFile(join(store, 'x509', 'ca', 't', 'r.pem'), toPem([root.chain[0]!]));
  const policy = join(work, 'policy.json');
  const statement = {
    name: 't',
    registryScopes: ['*'],
    signatureVerification: { level: 'strict' },
    trustStores: ['ca:t'],
    trustedIdentities: ['*'],
  };
  await writeFile(policy, JSON.stringify({ version: '1.0', trustPolicies: [statement] }));
  return { keys, store, policy };
}
