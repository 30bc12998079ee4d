import { createReadStream } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { Digester, type Descriptor } from './oci/index.ts';
import { KeyStore, signatureAlgorithmFor } from './pki/index.ts';
import { COSE_MEDIA_TYPE, JWS_MEDIA_TYPE, LocalKeySigner, parseEnvelope, signEnvelope, type PrimitiveSigner } from './signature/index.ts';
import { loadTrustPolicyFile, selectBlobPolicy, TrustStore, verifySignature, type TrustPolicyDocument, type VerificationOutcome } from './trust/index.ts';
import { SignetError, signetHome } from './util/index.ts';
import { join } from 'node:path';

type BlobHash = ConstructorParameters<typeof Digester>[0] & string;

// A blob's digest algorithm follows the key: sha384 (RSA-3072, EC P-384) is a valid artifact digest.
async function fileDigest(path: string, algorithm: BlobHash): Promise<{ digest: string; size: number }> {
  const h = new Digester(algorithm);
  for await (const c of createReadStream(path)) h.update(c as Buffer);
  return { digest: h.digest(), size: h.size };
}

/** Detached signature of a file; the digest algorithm follows the key (notary-spec §2). */
export async function signBlob(file: string, options: { key?: string; passphrase?: string; signer?: PrimitiveSigner; signatureFormat?: 'jws' | 'cose'; mediaType?: string; expirySeconds?: number; userMetadata?: Record<string, string>; output?: string } = {}): Promise<{ signaturePath: string; target: Descriptor }> {
  const signer = options.signer ?? (await (async () => {
    const k = await new KeyStore().get(options.key, options.passphrase);
    return new LocalKeySigner(k.privateKey, k.chain);
  })());
  const alg = signatureAlgorithmFor((await signer.certificateChain())[0]!);
  const { digest, size } = await fileDigest(file, alg.nodeHash);
  const target: Descriptor = { mediaType: options.mediaType ?? 'application/octet-stream', digest, size };
  if (options.userMetadata && Object.keys(options.userMetadata).length) target.annotations = options.userMetadata;
  const format = options.signatureFormat ?? 'jws';
  const now = new Date();
  const env = await signEnvelope({ target, signer, signingTime: now, ...(options.expirySeconds ? { expiry: new Date(now.getTime() + options.expirySeconds * 1000) } : {}) }, format === 'cose' ? COSE_MEDIA_TYPE : JWS_MEDIA_TYPE);
  const signaturePath = options.output ?? `${file}.${format}.sig`;
  await writeFile(signaturePath, env);
  return { signaturePath, target };
}

/** Verifies a detached signature of a file under the blob trust policy. */
export async function verifyBlob(file: string, signaturePath: string, options: { policyName?: string; trustPolicy?: TrustPolicyDocument | string; trustStore?: string; mediaType?: string; userMetadata?: Record<string, string>; now?: Date } = {}): Promise<VerificationOutcome> {
  const mediaType = signaturePath.endsWith('.cose.sig') ? COSE_MEDIA_TYPE : signaturePath.endsWith('.jws.sig') ? JWS_MEDIA_TYPE : undefined;
  if (!mediaType) throw new SignetError('USAGE', 'the signature file name must end in .jws.sig or .cose.sig (it names the envelope format)', { kind: 'usage' });
  const doc = typeof options.trustPolicy === 'object' ? options.trustPolicy : await loadTrustPolicyFile(options.trustPolicy ?? join(signetHome(), 'trustpolicy.blob.json'), 'blob');
  const statement = selectBlobPolicy(doc, options.policyName);
  const envelope = await readFile(signaturePath);
  await stat(file);
  // The blob is hashed with the algorithm the signing key implies, never the one the payload claims.
  let claimed: Descriptor;
  let nodeHash: BlobHash;
  try {
    const c = parseEnvelope(envelope, mediaType);
    claimed = c.targetArtifact;
    nodeHash = signatureAlgorithmFor(c.signerInfo.certificateChain[0]!).nodeHash;
  } catch {
    claimed = { mediaType: 'application/octet-stream', digest: `sha256:${'0'.repeat(64)}`, size: 0 };
    nodeHash = 'sha256';
  }
  const { digest, size } = await fileDigest(file, nodeHash);
  const subject = { mediaType: options.mediaType ?? claimed.mediaType, digest, size };
  return verifySignature({ envelope, mediaType, subject, statement, trustStore: new TrustStore(options.trustStore), options: { ...(options.userMetadata ? { userMetadata: options.userMetadata } : {}), ...(options.now ? { now: options.now } : {}) } });
}
