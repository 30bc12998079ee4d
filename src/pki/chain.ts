import type { X509Certificate } from 'node:crypto';
import { SignetError } from '../util/index.ts';
import { signatureAlgorithmFor } from './algorithms.ts';
import { OID, certInfo, describeCert, issuedBy, type KeyUsageName } from './x509.ts';

function fail(message: string): never {
  throw new SignetError('CERT_CHAIN_INVALID', message);
}

const LEAF_FORBIDDEN_KU: KeyUsageName[] = [
  'keyEncipherment',
  'dataEncipherment',
  'keyAgreement',
  'keyCertSign',
  'cRLSign',
  'encipherOnly',
  'decipherOnly',
];
const LEAF_FORBIDDEN_EKU: Record<string, string> = {
  [OID.serverAuth]: 'serverAuth',
  [OID.clientAuth]: 'clientAuth',
  [OID.emailProtection]: 'emailProtection',
  [OID.timeStamping]: 'timeStamping',
  [OID.ocspSigning]: 'OCSPSigning',
};

function checkLeaf(leaf: X509Certificate): void {
  const info = certInfo(leaf);
  const name = describeCert(leaf);
  if (info.basicConstraints?.ca)
    fail(`signing certificate ${name} is a CA certificate (basicConstraints cA=true); a CA cannot be the signer`);
  if (!info.keyUsage) fail(`signing certificate ${name} has no keyUsage extension; it must have digitalSignature`);
  if (!info.keyUsage.critical) fail(`signing certificate ${name}: the keyUsage extension must be critical`);
  if (!info.keyUsage.usages.has('digitalSignature'))
    fail(`signing certificate ${name}: keyUsage lacks digitalSignature`);
  const bad = LEAF_FORBIDDEN_KU.filter((u) => info.keyUsage!.usages.has(u));
  if (bad.length) fail(`signing certificate ${name}: keyUsage must not include ${bad.join(', ')}`);
  for (const p of info.extKeyUsage?.purposes ?? []) {
    if (LEAF_FORBIDDEN_EKU[p])
      fail(`signing certificate ${name}: extendedKeyUsage must not include ${LEAF_FORBIDDEN_EKU[p]}`);
  }
  signatureAlgorithmFor(leaf); // key type and size must be one the spec allows
}

function checkCa(cert: X509Certificate, index: number): void {
  const info = certInfo(cert);
  const name = describeCert(cert);
  if (!info.basicConstraints?.ca)
    fail(
      `certificate ${name} issues another certificate of the chain but is not a CA (basicConstraints cA=true missing)`
    );
  if (!info.keyUsage) fail(`CA certificate ${name} has no keyUsage extension; it must have keyCertSign`);
  if (!info.keyUsage.critical) fail(`CA certificate ${name}: the keyUsage extension must be critical`);
  if (!info.keyUsage.usages.has('keyCertSign')) fail(`CA certificate ${name}: keyUsage lacks keyCertSign`);
  // pathLen counts the CA certificates below this one (index i has i-1 CAs under it).
  const below = index - 1;
  if (info.basicConstraints.pathLength !== undefined && info.basicConstraints.pathLength < below) {
    fail(
      `CA certificate ${name}: pathLenConstraint ${info.basicConstraints.pathLength} allows fewer than the ${below} CA certificate(s) below it`
    );
  }
}

function checkChainShape(chain: X509Certificate[], what: string): void {
  if (chain.length === 0) fail(`${what}: the certificate chain is empty`);
  for (const c of chain)
    if (certInfo(c).sha1Signature) fail(`${what}: certificate ${describeCert(c)} is signed with SHA-1`);
  const last = chain[chain.length - 1]!;
  if (!certInfo(last).selfSigned) {
    fail(
      chain.length === 1
        ? `${what}: a single certificate must be self-signed (${describeCert(last)} is not)`
        : `${what}: the chain must end with a self-signed root (${describeCert(last)} is not)`
    );
  }
  for (let i = 0; i < chain.length - 1; i++) {
    const cert = chain[i]!;
    if (certInfo(cert).selfSigned)
      fail(
        `${what}: ${i === 0 ? 'leaf' : 'intermediate'} certificate ${describeCert(cert)} is self-signed but is not the last one`
      );
  }
}

// The envelope carries its path, leaf to root, so there is no path to build: each link is checked
// by OpenSSL through node:crypto (X509Certificate.checkIssued: issuer/subject name chaining and the
// issuer's key usage; verify: the signature), and pkijs parses the extensions the rules need.
// Nothing here parses ASN.1 or verifies a certificate signature by hand.
function checkIssuance(chain: X509Certificate[], what: string): void {
  for (let i = 0; i < chain.length - 1; i++) {
    const cert = chain[i]!;
    if (!issuedBy(cert, chain[i + 1]!))
      fail(`${what}: certificate ${describeCert(cert)} is not issued by the next one, ${describeCert(chain[i + 1]!)}`);
  }
}

/**
 * The code-signing chain rules of the Notary Project (notary-spec §7), applied at sign and verify
 * time: leaf first, self-signed root last and included, each certificate issued by the next,
 * leaf key usage and EKU, CA basic constraints, path length, key types and sizes, no SHA-1.
 * Validity times are not checked here (that is the authentic-timestamp step).
 */
export function validateCodeSigningChain(chain: X509Certificate[]): void {
  // Every signature of one signer carries the same chain (the same certificate objects, see
  // certificateFromDer), and the rules do not depend on the time: a chain that passed once passes.
  const leaf = chain[0];
  const known = leaf ? validChains.get(leaf) : undefined;
  if (known?.some((c) => c.length === chain.length && c.every((x, i) => x === chain[i]))) return;
  validateCodeSigningChainUncached(chain);
  const list = validChains.get(leaf!) ?? [];
  if (list.length >= 8) list.shift();
  list.push([...chain]);
  validChains.set(leaf!, list);
}

// Chains that passed, by leaf certificate object (a WeakMap: gone with the certificates).
const validChains = new WeakMap<X509Certificate, X509Certificate[][]>();

function validateCodeSigningChainUncached(chain: X509Certificate[]): void {
  checkChainShape(chain, 'signing chain');
  checkLeaf(chain[0]!);
  // CA rules before issuance: a CA without keyCertSign cannot issue, and saying which rule it
  // breaks is more useful than "not issued by".
  for (let i = 1; i < chain.length; i++) checkCa(chain[i]!, i);
  checkIssuance(chain, 'signing chain');
}

/** The TSA chain rules: leaf EKU present, critical, only timeStamping; KU digitalSignature; CA rules. */
export function validateTimestampingChain(chain: X509Certificate[]): void {
  checkChainShape(chain, 'timestamping chain');
  const leaf = chain[0]!;
  const info = certInfo(leaf);
  const name = describeCert(leaf);
  if (
    !info.extKeyUsage ||
    !info.extKeyUsage.critical ||
    info.extKeyUsage.purposes.length !== 1 ||
    info.extKeyUsage.purposes[0] !== OID.timeStamping
  ) {
    fail(`TSA certificate ${name}: extendedKeyUsage must be critical and contain only timeStamping`);
  }
  if (!info.keyUsage?.usages.has('digitalSignature')) fail(`TSA certificate ${name}: keyUsage lacks digitalSignature`);
  for (let i = 1; i < chain.length; i++) checkCa(chain[i]!, i);
  checkIssuance(chain, 'timestamping chain');
}

const validities = new WeakMap<X509Certificate, { from: Date; to: Date }>();

/** A certificate's validity period as dates (parsed once per certificate object). */
function validity(c: X509Certificate): { from: Date; to: Date } {
  let v = validities.get(c);
  if (!v) {
    v = { from: new Date(c.validFrom), to: new Date(c.validTo) };
    validities.set(c, v);
  }
  return v;
}

/** Whether every certificate of the chain is valid at `time`. */
export function chainValidAt(chain: X509Certificate[], time: Date): { ok: boolean; message?: string } {
  // Compared as time values (what `<` on two Dates compares, without the conversion on each use).
  const t = time.getTime();
  for (const c of chain) {
    const { from, to } = validity(c);
    if (t < from.getTime())
      return {
        ok: false,
        message: `${time.toISOString()} is before the validity period of certificate ${describeCert(c)} (${from.toISOString()} to ${to.toISOString()})`,
      };
    if (t > to.getTime())
      return {
        ok: false,
        message: `${time.toISOString()} is after the validity period of certificate ${describeCert(c)} (${from.toISOString()} to ${to.toISOString()})`,
      };
  }
  return { ok: true };
}
