import type { KeyObject, X509Certificate } from 'node:crypto';
import { createCertificate, generateKeyPair, type CertificateRequest, type KeyType } from '../../src/pki/index.ts';
import { LocalKeySigner } from '../../src/signature/index.ts';

export interface TestChain {
  leafKey: KeyObject;
  chain: X509Certificate[];
  root: X509Certificate;
  signer: LocalKeySigner;
}

const DAY = 86_400_000;

/**
 * Builds a throwaway root → (intermediate →) leaf chain for tests. `leaf` overrides the leaf
 * certificate request so negative tests can make bad certificates.
 */
export async function makeChain(
  opts: {
    leafType?: KeyType;
    rootType?: KeyType;
    intermediate?: boolean;
    leaf?: Partial<CertificateRequest>;
    leafSubject?: string;
    notBefore?: Date;
    notAfter?: Date;
  } = {}
): Promise<TestChain> {
  const notBefore = opts.notBefore ?? new Date(Date.now() - 10 * 365 * DAY);
  const notAfter = opts.notAfter ?? new Date(Date.now() + 10 * 365 * DAY);
  const rootKeys = generateKeyPair(opts.rootType ?? 'ecdsa-p384');
  const root = await createCertificate({
    subject: 'CN=Test Root,O=Signet Test,ST=WA,C=US',
    publicKey: rootKeys.publicKey,
    signingKey: rootKeys.privateKey,
    ca: true,
    notBefore,
    notAfter,
  });
  let issuer = { cert: root, privateKey: rootKeys.privateKey };
  const cas: X509Certificate[] = [root];
  if (opts.intermediate) {
    const k = generateKeyPair('ecdsa-p256');
    const inter = await createCertificate({
      subject: 'CN=Test Intermediate,O=Signet Test,ST=WA,C=US',
      publicKey: k.publicKey,
      issuer,
      ca: true,
      notBefore,
      notAfter,
    });
    cas.unshift(inter);
    issuer = { cert: inter, privateKey: k.privateKey };
  }
  const leafKeys = generateKeyPair(opts.leafType ?? 'ecdsa-p256');
  const leaf = await createCertificate({
    subject: opts.leafSubject ?? 'CN=Test Signer,O=Signet Test,ST=WA,C=US',
    publicKey: leafKeys.publicKey,
    issuer,
    notBefore,
    notAfter,
    ...opts.leaf,
  });
  const chain = [leaf, ...cas];
  return { leafKey: leafKeys.privateKey, chain, root, signer: new LocalKeySigner(leafKeys.privateKey, chain) };
}
