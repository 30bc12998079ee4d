import type { Descriptor } from './oci/index.ts';
import { isNotarySignatureManifest, MAX_ENVELOPE_SIZE, parseEnvelope } from './signature/index.ts';
import { fetchAll, fetchManifest, openTarget, type OpenOptions } from './target/index.ts';
import { listSignatures } from './verify.ts';
import { SignetError } from './util/index.ts';

export interface SignatureInfo {
  digest: string;
  envelopeMediaType?: string;
  signingScheme?: string;
  signatureAlgorithm?: string;
  signingTime?: string;
  expiry?: string;
  signingAgent?: string;
  timestamped?: boolean;
  userMetadata?: Record<string, string>;
  certificateChain?: Array<{ subject: string; issuer: string; notBefore: string; notAfter: string; sha256: string }>;
  /** Set when the envelope could not be decoded. */
  error?: string;
}

/**
 * The signatures of an artifact, decoded but NOT verified (`signet ls` / `signet inspect`):
 * nothing here is trusted; use verify for that.
 */
export async function inspect(ref: string, options: { open?: OpenOptions; maxSignatures?: number } = {}): Promise<{ reference: string; subject: Descriptor; signatures: SignatureInfo[] }> {
  const { target, reference } = await openTarget(ref, options.open);
  try {
    if (!reference) throw new SignetError('USAGE', `${ref} needs a tag or digest`, { kind: 'usage' });
    const root = await target.resolve(reference);
    const subject: Descriptor = { mediaType: root.mediaType, digest: root.digest, size: root.size };
    const signatures: SignatureInfo[] = [];
    for (const sig of await listSignatures(target, subject, options.maxSignatures ?? 100)) {
      const info: SignatureInfo = { digest: sig.digest };
      signatures.push(info);
      try {
        const { manifest } = await fetchManifest(target, sig);
        if (!isNotarySignatureManifest(manifest) || manifest.layers.length !== 1) throw new Error('not a Notary Project signature manifest');
        const layer = manifest.layers[0]!;
        info.envelopeMediaType = layer.mediaType;
        const c = parseEnvelope(await fetchAll(target, layer, MAX_ENVELOPE_SIZE), layer.mediaType);
        const si = c.signerInfo;
        info.signingScheme = si.signingScheme;
        info.signatureAlgorithm = si.signatureAlgorithm;
        const t = si.signingTime ?? si.authenticSigningTime;
        if (t) info.signingTime = t.toISOString();
        if (si.expiry) info.expiry = si.expiry.toISOString();
        if (si.signingAgent) info.signingAgent = si.signingAgent;
        info.timestamped = Boolean(si.timestampSignature);
        if (c.targetArtifact.annotations) info.userMetadata = c.targetArtifact.annotations;
        info.certificateChain = si.certificateChain.map((x) => ({
          subject: x.subject.split('\n').reverse().join(', '),
          issuer: x.issuer.split('\n').reverse().join(', '),
          notBefore: new Date(x.validFrom).toISOString(),
          notAfter: new Date(x.validTo).toISOString(),
          sha256: x.fingerprint256.replace(/:/g, '').toLowerCase(),
        }));
      } catch (err) {
        info.error = (err as Error).message;
      }
    }
    return { reference: `${target.name}@${subject.digest}`, subject, signatures };
  } finally {
    await target.close();
  }
}
