import { X509Certificate } from 'node:crypto';
import { createRequire } from 'node:module';
import type { Bundle } from '@sigstore/bundle';
import { SignetError } from '../../util/index.ts';

/**
 * Sigstore bundles (protobuf-specs v0.1–v0.3) described for people (`signet ls`, `inspect`, the
 * registry's web view): what is signed, by which certificate or key, with how many log entries
 * and timestamps — decoded with `@sigstore/bundle`, NOT verified (signet verify decides that).
 */

/** Sigstore bundle media types: v0.1, v0.2 (`…bundle+json;version=0.x`) and v0.3 (`…bundle.v0.3+json`). */
export function isSigstoreBundleType(type: string | undefined): boolean {
  return (
    !!type && /^application\/vnd\.dev\.sigstore\.bundle(\.v0\.[0-9]+\+json|\+json;\s*version=0\.[0-9]+)$/.test(type)
  );
}

export interface BundleSummary {
  mediaType: string;
  /** `DSSE <payloadType>` (with the in-toto predicate type when there is one) or `message signature`. */
  content: string;
  predicateType?: string;
  /** The signing certificate's subject alternative name and issuer (keyless), or the key hint. */
  signer: string;
  certificateIssuer?: string;
  certificateValidity?: { notBefore: string; notAfter: string };
  tlogEntries: number;
  timestamps: number;
}

// CommonJS, loaded on first use (a verification with no Sigstore bundle never loads it).
const load = createRequire(import.meta.url);

/** The DER of a bundle's signing certificate (v0.3's one certificate, or the chain's leaf), if it has one. */
export function leafCertificateDer(b: Bundle): Uint8Array | undefined {
  const c = b.verificationMaterial.content;
  return c.$case === 'certificate'
    ? c.certificate.rawBytes
    : c.$case === 'x509CertificateChain'
      ? c.x509CertificateChain.certificates[0]?.rawBytes
      : undefined;
}

/** Decodes a bundle's JSON; a bundle that does not parse is refused with a coded error. */
export function describeBundle(bytes: Uint8Array): BundleSummary {
  let b;
  try {
    const json = JSON.parse(Buffer.from(bytes).toString('utf8')) as unknown;
    b = (load('@sigstore/bundle') as typeof import('@sigstore/bundle')).bundleFromJSON(json);
  } catch (err) {
    throw new SignetError('SIGNATURE_INVALID', `not a Sigstore bundle: ${(err as Error).message}`);
  }
  const vm = b.verificationMaterial;
  const out: BundleSummary = {
    mediaType: b.mediaType,
    content: 'message signature',
    signer: 'unknown',
    tlogEntries: vm.tlogEntries?.length ?? 0,
    timestamps: vm.timestampVerificationData?.rfc3161Timestamps?.length ?? 0,
  };
  if (b.content.$case === 'dsseEnvelope') {
    const env = b.content.dsseEnvelope;
    out.content = `DSSE ${env.payloadType}`;
    try {
      const st = JSON.parse(Buffer.from(env.payload).toString('utf8')) as { predicateType?: unknown };
      if (typeof st.predicateType === 'string') out.predicateType = st.predicateType;
    } catch {
      // not JSON: no predicate to show
    }
  }
  const c = vm.content;
  const der = leafCertificateDer(b);
  if (der) {
    try {
      const cert = new X509Certificate(Buffer.from(der));
      out.signer = cert.subjectAltName ?? cert.subject.replace(/\n/g, ', ');
      out.certificateIssuer = cert.issuer.replace(/\n/g, ', ');
      out.certificateValidity = { notBefore: cert.validFrom, notAfter: cert.validTo };
    } catch (err) {
      out.signer = `undecodable certificate (${(err as Error).message})`;
    }
  } else if (c.$case === 'publicKey') out.signer = `key ${c.publicKey.hint || '(no hint)'}`;
  return out;
}
