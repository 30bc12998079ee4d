import { X509Certificate } from 'node:crypto';
import { SignetError } from '../../util/index.ts';

/**
 * cosign's legacy attestations (`cosign attest` without `--new-bundle-format`): an image manifest
 * under the tag `sha256-<hex>.att` whose layers are DSSE envelopes
 * (`application/vnd.dsse.envelope.v1+json`), keyless ones carrying their certificate, chain and
 * Rekor SET in annotations. Each layer is restated here as the Sigstore bundle it amounts to, so
 * `@sigstore/verify` checks it like any other bundle: this is a change of container only — no
 * signature, certificate or log entry is judged here.
 */

export const DSSE_ENVELOPE_MEDIA_TYPE = 'application/vnd.dsse.envelope.v1+json';
export const COSIGN_CERTIFICATE_ANNOTATION = 'dev.sigstore.cosign/certificate';
export const COSIGN_CHAIN_ANNOTATION = 'dev.sigstore.cosign/chain';
export const COSIGN_BUNDLE_ANNOTATION = 'dev.sigstore.cosign/bundle';

/** The tag cosign keeps legacy attestations under. */
export function cosignAttestationTag(digest: string): string {
  return `${digest.replace(':', '-')}.att`;
}

const pemCertificates = (pem: string): string[] =>
  (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((c) =>
    new X509Certificate(c).raw.toString('base64')
  );

/** A `.att` layer (its DSSE envelope bytes and the layer's annotations) as Sigstore bundle JSON. */
export function legacyAttestationBundle(envelope: Uint8Array, annotations: Record<string, string> = {}): Uint8Array {
  const bad = (why: string): never => {
    throw new SignetError('SIGNATURE_INVALID', `cosign .att layer: ${why}`);
  };
  let env: { payloadType?: unknown; payload?: unknown; signatures?: unknown };
  try {
    env = JSON.parse(Buffer.from(envelope).toString('utf8')) as typeof env;
  } catch (err) {
    return bad(`not a DSSE envelope: ${(err as Error).message}`);
  }
  if (typeof env.payloadType !== 'string' || typeof env.payload !== 'string' || !Array.isArray(env.signatures))
    bad('not a DSSE envelope (payloadType, payload, signatures)');
  const cert = annotations[COSIGN_CERTIFICATE_ANNOTATION];
  let material: Record<string, unknown> = { publicKey: { hint: '' }, tlogEntries: [] };
  let mediaType = 'application/vnd.dev.sigstore.bundle+json;version=0.2';
  if (cert) {
    let certificates: string[];
    try {
      certificates = [...pemCertificates(cert), ...pemCertificates(annotations[COSIGN_CHAIN_ANNOTATION] ?? '')];
    } catch (err) {
      return bad(`its certificate does not parse: ${(err as Error).message}`);
    }
    if (!certificates.length) bad('its certificate annotation holds no certificate');
    const tlogEntries: unknown[] = [];
    const set = annotations[COSIGN_BUNDLE_ANNOTATION];
    if (set) {
      // cosign's "bundle" annotation: the Rekor SET and the entry it promises
      let b: { SignedEntryTimestamp?: unknown; Payload?: Record<string, unknown> };
      try {
        b = JSON.parse(set) as typeof b;
      } catch (err) {
        return bad(`its Rekor bundle annotation is not JSON: ${(err as Error).message}`);
      }
      const p = b.Payload ?? {};
      if (typeof p.body !== 'string' || typeof b.SignedEntryTimestamp !== 'string') bad('an incomplete Rekor bundle');
      let kind: { kind?: unknown; apiVersion?: unknown };
      try {
        kind = JSON.parse(Buffer.from(p.body as string, 'base64').toString('utf8')) as typeof kind;
      } catch {
        return bad('a Rekor entry body that is not JSON');
      }
      tlogEntries.push({
        logIndex: String(p.logIndex),
        logId: { keyId: Buffer.from(String(p.logID), 'hex').toString('base64') },
        kindVersion: { kind: String(kind.kind), version: String(kind.apiVersion) },
        integratedTime: String(p.integratedTime),
        inclusionPromise: { signedEntryTimestamp: b.SignedEntryTimestamp },
        canonicalizedBody: p.body,
      });
    }
    material = { x509CertificateChain: { certificates: certificates.map((rawBytes) => ({ rawBytes })) }, tlogEntries };
    mediaType = 'application/vnd.dev.sigstore.bundle+json;version=0.1';
  }
  return Buffer.from(
    JSON.stringify({
      mediaType,
      verificationMaterial: { ...material, timestampVerificationData: { rfc3161Timestamps: [] } },
      dsseEnvelope: { payload: env.payload, payloadType: env.payloadType, signatures: env.signatures },
    })
  );
}
