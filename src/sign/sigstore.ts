import { createHash, createPublicKey, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { bundleToJSON, toMessageSignatureBundle, type SerializedBundle } from '@sigstore/bundle';
import { DSSEBundleBuilder, type Signature, type Signer } from '@sigstore/sign';
import { readFile } from 'node:fs/promises';
import { descriptorFor, EMPTY_JSON, MediaType, type Descriptor, type ImageManifest } from '../oci/index.ts';
import { openTarget, requireWritable, resolveOpened, type OpenOptions, type Target } from '../store/index.ts';
import { KeyStore } from '../pki/index.ts';
import { writeFileAtomic } from '../util/index.ts';
import { attachReferrer } from './attach.ts';

/** The media type (and referrer artifact type) of a protobuf-specs v0.3 bundle, as cosign 3 writes it. */
export const SIGSTORE_BUNDLE_V03 = 'application/vnd.dev.sigstore.bundle.v0.3+json';
/** The predicate type of the in-toto statement `cosign sign` (3.x) signs for an image. */
export const COSIGN_SIGN_PREDICATE = 'https://sigstore.dev/cosign/sign/v1';
const IN_TOTO = 'application/vnd.in-toto+json';

/** The hash a key signs with, as cosign chooses it (none for Ed25519, SHA-384 for P-384, else SHA-256). */
function hashFor(key: KeyObject): string | null {
  if (key.asymmetricKeyType === 'ed25519') return null;
  return key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'secp384r1' ? 'sha384' : 'sha256';
}

/** The key hint cosign writes in a key-based bundle: base64 SHA-256 of the SubjectPublicKeyInfo. */
export function keyHint(privateKey: KeyObject): string {
  return createHash('sha256')
    .update(createPublicKey(privateKey).export({ type: 'spki', format: 'der' }))
    .digest('base64');
}

/**
 * An @sigstore/sign `Signer` over a local private key: a public key, never a certificate. `hint`
 * becomes the DSSE signature's `keyid` too, which cosign leaves empty (sigstore-go skips a
 * signature whose keyid is not its own idea of the key's id), so DSSE is signed without one.
 */
function keySigner(privateKey: KeyObject, hint = keyHint(privateKey)): Signer {
  const publicKey = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString();
  return {
    sign: (data: Buffer): Promise<Signature> =>
      Promise.resolve({
        signature: cryptoSign(hashFor(privateKey), data, privateKey),
        key: { $case: 'publicKey', publicKey, hint },
      }),
  };
}

/** The in-toto statement cosign 3 signs for an image: the digest as its only subject, the cosign sign predicate. */
export function cosignStatement(
  digest: string,
  predicateType = COSIGN_SIGN_PREDICATE,
  predicate: unknown = {}
): Buffer {
  const [alg, hex] = digest.split(':') as [string, string];
  return Buffer.from(
    JSON.stringify({
      _type: 'https://in-toto.io/Statement/v1',
      subject: [{ digest: { [alg]: hex }, annotations: {} }],
      predicateType,
      predicate,
    })
  );
}

/**
 * A key-based v0.3 bundle without a transparency log entry (cosign's `--tlog-upload=false`):
 * a DSSE envelope of `dsse` (an in-toto statement) built by @sigstore/sign, or a message
 * signature over `data` (a blob, as `cosign sign-blob --bundle`).
 */
export async function keyBundle(
  privateKey: KeyObject,
  content: { dsse: Buffer; payloadType?: string } | { data: Buffer }
): Promise<SerializedBundle> {
  const hint = keyHint(privateKey);
  if ('dsse' in content) {
    const bundle = await new DSSEBundleBuilder({ signer: keySigner(privateKey, ''), witnesses: [] }).create({
      data: content.dsse,
      type: content.payloadType ?? IN_TOTO,
    });
    // as cosign 3: the hint in the verification material, no keyid in the envelope
    if (bundle.verificationMaterial.content.$case === 'publicKey')
      bundle.verificationMaterial.content.publicKey.hint = hint;
    return bundleToJSON(bundle);
  }
  const signer = keySigner(privateKey, hint);
  const sig = await signer.sign(content.data);
  return bundleToJSON(
    toMessageSignatureBundle({
      digest: createHash('sha256').update(content.data).digest(),
      signature: sig.signature,
      ...(sig.key.$case === 'publicKey' && sig.key.hint ? { keyHint: sig.key.hint } : {}),
      // false: no certificate chain, the v0.3 media type
      certificateChain: false,
    })
  );
}

/**
 * Stores a bundle as a referrer of `subject` in cosign 3's layout: artifact type and one layer of
 * the bundle media type, the empty config, and the annotations cosign writes (content kind,
 * predicate type, creation time).
 */
export async function attachSigstoreBundle(
  target: Target,
  subject: Descriptor,
  bundle: SerializedBundle | object,
  annotations: Record<string, string> = {}
): Promise<Descriptor> {
  const data = Buffer.from(JSON.stringify(bundle));
  const layer = descriptorFor(SIGSTORE_BUNDLE_V03, data);
  const empty = { mediaType: EMPTY_JSON.mediaType, digest: EMPTY_JSON.digest, size: EMPTY_JSON.size };
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.ImageManifest,
    artifactType: SIGSTORE_BUNDLE_V03,
    config: empty,
    layers: [{ mediaType: layer.mediaType, digest: layer.digest, size: layer.size }],
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    ...(Object.keys(annotations).length ? { annotations } : {}),
  };
  return attachReferrer(target, manifest, [
    { descriptor: empty, data: Buffer.from('{}') },
    { descriptor: layer, data },
  ]);
}

/**
 * Signs an artifact as `cosign sign --key … --tlog-upload=false` (cosign 3) does: a v0.3 bundle
 * with a DSSE envelope of an in-toto statement naming the artifact's digest, stored as a referrer.
 */
export async function signSigstoreBundle(
  ref: string,
  privateKey: KeyObject,
  options: { open?: OpenOptions; predicateType?: string; predicate?: unknown } = {}
): Promise<{ subject: Descriptor; manifest: Descriptor; bundle: SerializedBundle }> {
  const opened = await openTarget(ref, options.open);
  try {
    const target = requireWritable(opened.target);
    const subject = await resolveOpened(opened, ref);
    const predicateType = options.predicateType ?? COSIGN_SIGN_PREDICATE;
    const bundle = await keyBundle(privateKey, {
      dsse: cosignStatement(subject.digest, predicateType, options.predicate ?? {}),
    });
    const manifest = await attachSigstoreBundle(target, subject, bundle, {
      'dev.sigstore.bundle.content': 'dsse-envelope',
      'dev.sigstore.bundle.predicateType': predicateType,
      'org.opencontainers.image.created': new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    });
    return { subject, manifest, bundle };
  } finally {
    await opened.target.close();
  }
}

/**
 * A key-based bundle of a file, as `cosign sign-blob --bundle OUT --tlog-upload=false` writes it:
 * a message signature over the file's bytes by a local key (Signet's key store), written to `output`.
 */
export async function signBlobBundle(
  file: string,
  options: { output: string; key?: string; passphrase?: string; privateKey?: KeyObject }
): Promise<{ bundlePath: string; digest: string }> {
  const privateKey = options.privateKey ?? (await new KeyStore().get(options.key, options.passphrase)).privateKey;
  const data = await readFile(file);
  const bundle = await keyBundle(privateKey, { data });
  await writeFileAtomic(options.output, Buffer.from(JSON.stringify(bundle)));
  return { bundlePath: options.output, digest: `sha256:${createHash('sha256').update(data).digest('hex')}` };
}
