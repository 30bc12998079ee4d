import { digestFile, type Descriptor } from '../oci/index.ts';
import { KeyStore, signatureAlgorithmFor } from '../pki/index.ts';
import {
  COSE_MEDIA_TYPE,
  JWS_MEDIA_TYPE,
  LocalKeySigner,
  signEnvelope,
  type PrimitiveSigner,
} from '../signature/index.ts';
import { writeFileAtomic } from '../util/index.ts';

/** Detached Notary Project signature of a file; the digest algorithm follows the key (notary-spec §2). */
export async function signBlob(
  file: string,
  options: {
    key?: string;
    passphrase?: string;
    signer?: PrimitiveSigner;
    signatureFormat?: 'jws' | 'cose';
    mediaType?: string;
    expirySeconds?: number;
    userMetadata?: Record<string, string>;
    output?: string;
  } = {}
): Promise<{ signaturePath: string; target: Descriptor }> {
  const signer =
    options.signer ??
    (await (async () => {
      const k = await new KeyStore().get(options.key, options.passphrase);
      return new LocalKeySigner(k.privateKey, k.chain);
    })());
  const alg = signatureAlgorithmFor((await signer.certificateChain())[0]!);
  const { digest, size } = await digestFile(file, alg.nodeHash);
  const target: Descriptor = { mediaType: options.mediaType ?? 'application/octet-stream', digest, size };
  if (options.userMetadata && Object.keys(options.userMetadata).length) target.annotations = options.userMetadata;
  const format = options.signatureFormat ?? 'jws';
  const now = new Date();
  const env = await signEnvelope(
    {
      target,
      signer,
      signingTime: now,
      ...(options.expirySeconds ? { expiry: new Date(now.getTime() + options.expirySeconds * 1000) } : {}),
    },
    format === 'cose' ? COSE_MEDIA_TYPE : JWS_MEDIA_TYPE
  );
  const signaturePath = options.output ?? `${file}.${format}.sig`;
  await writeFileAtomic(signaturePath, env);
  return { signaturePath, target };
}
