import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toPem } from '../../../src/pki/index.ts';
import { parseDistinguishedName, TrustStore, identityMatches } from '../../../src/trust/index.ts';
import { makeChain } from '../../helpers/pki.ts';

describe('trust store rules', () => {
  let root: string;
  let pem: string;
  let leafPem: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'signet-ts-'));
    const c = await makeChain({ intermediate: true });
    pem = toPem([c.root]);
    leafPem = toPem([c.chain[0]!]);
  });
  afterAll(async () => rm(root, { recursive: true, force: true }));

  async function store(name: string, files: Record<string, string>): Promise<void> {
    const dir = join(root, 'x509', 'ca', name);
    await mkdir(dir, { recursive: true });
    for (const [f, text] of Object.entries(files)) await writeFile(join(dir, f), text);
  }

  it('loads a store of roots', async () => {
    await store('ok', { 'root.pem': pem });
    expect(await new TrustStore(root).getCertificates('ca', 'ok')).toHaveLength(1);
    // also when given the parent of truststore/
    await mkdir(join(root, 'parent', 'truststore'), { recursive: true });
    await symlink(join(root, 'x509'), join(root, 'parent', 'truststore', 'x509'));
  });
  it('refuses a certificate that is neither a CA nor self-signed', async () => {
    await store('leafy', { 'leaf.pem': leafPem });
    await expect(new TrustStore(root).getCertificates('ca', 'leafy')).rejects.toThrow(
      /not a CA certificate or self-signed/
    );
  });
  it('refuses symbolic links and sub-directories', async () => {
    await store('linked', {});
    await writeFile(join(root, 'real.pem'), pem);
    await symlink(join(root, 'real.pem'), join(root, 'x509', 'ca', 'linked', 'l.pem'));
    await expect(new TrustStore(root).getCertificates('ca', 'linked')).rejects.toThrow(/symbolic link/);
    await store('nested', { 'root.pem': pem });
    await mkdir(join(root, 'x509', 'ca', 'nested', 'sub'));
    await expect(new TrustStore(root).getCertificates('ca', 'nested')).rejects.toThrow(/is a directory/);
  });
  it('refuses empty and missing stores, and bad names', async () => {
    await store('empty', {});
    await expect(new TrustStore(root).getCertificates('ca', 'empty')).rejects.toThrow(/has no certificates/);
    await expect(new TrustStore(root).getCertificates('ca', 'missing')).rejects.toThrow(/does not exist/);
    await expect(new TrustStore(root).getCertificates('ca', '../x')).rejects.toThrow(/invalid trust store name/);
  });
  it('sees a certificate replaced in place (no stale cache)', async () => {
    await store('swap', { 'root.pem': pem });
    const ts = new TrustStore(root);
    expect(await ts.getCertificates('ca', 'swap')).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 20));
    await writeFile(join(root, 'x509', 'ca', 'swap', 'root.pem'), leafPem);
    await expect(ts.getCertificates('ca', 'swap')).rejects.toThrow(/not a CA certificate/);
  });
});

describe('trusted identities (RFC 4514)', () => {
  it('parses escapes, S as ST, spaces', () => {
    const dn = parseDistinguishedName('CN=Acme\\, Inc. ,  O=Acme , S=WA, C=US');
    expect(Object.fromEntries(dn)).toEqual({ CN: 'Acme, Inc.', O: 'Acme', ST: 'WA', C: 'US' });
  });
  it('matches subsets only', () => {
    const subject = parseDistinguishedName('CN=release,O=Acme,ST=WA,C=US');
    expect(identityMatches(parseDistinguishedName('O=Acme,ST=WA,C=US'), subject)).toBe(true);
    expect(identityMatches(parseDistinguishedName('O=acme,ST=WA,C=US'), subject)).toBe(false);
    expect(identityMatches(parseDistinguishedName('OU=x,O=Acme,ST=WA,C=US'), subject)).toBe(false);
  });
  it('refuses duplicate attributes, hex values and multi-valued RDNs', () => {
    expect(() => parseDistinguishedName('C=US,C=DE')).toThrow(/twice/);
    expect(() => parseDistinguishedName('CN=#0403,C=US')).toThrow(/hex/);
    expect(() => parseDistinguishedName('CN=a+O=b')).toThrow(/multi-valued/);
  });
});
