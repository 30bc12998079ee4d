import { createHash, createPrivateKey, createPublicKey, sign as cryptoSign, KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import { bundleToJSON, toMessageSignatureBundle, type Bundle, type SerializedBundle } from '@sigstore/bundle';
import {
  DEFAULT_FULCIO_URL,
  DEFAULT_REKOR_URL,
  DSSEBundleBuilder,
  FulcioSigner,
  MessageSignatureBundleBuilder,
  RekorWitness,
  TSAWitness,
  type Signature,
  type Signer,
  type Witness,
} from '@sigstore/sign';
import { readFile } from 'node:fs/promises';
import { descriptorFor, EMPTY_JSON, MediaType, type Descriptor, type ImageManifest } from '../oci/index.ts';
import { openTarget, requireWritable, resolveOpened, type OpenOptions, type Target } from '../store/index.ts';
import { ecdsaP1363ToDer, KeyStore, signatureAlgorithmFor } from '../pki/index.ts';
import { SignetError, writeFileAtomic } from '../util/index.ts';
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
export function keyHint(key: KeyObject): string {
  return createHash('sha256')
    .update((key.type === 'public' ? key : createPublicKey(key)).export({ type: 'spki', format: 'der' }))
    .digest('base64');
}

/** A key that signs a bundle: a local private key, or one a Notary plugin holds (an HSM, a KMS). */
export interface BundleKey {
  publicKey: KeyObject;
  /** The signature as a bundle carries it (DER for ECDSA, as cosign). */
  sign(data: Buffer): Promise<Buffer>;
}

function localKey(privateKey: KeyObject): BundleKey {
  return {
    publicKey: createPublicKey(privateKey),
    sign: (data) => Promise.resolve(cryptoSign(hashFor(privateKey), data, privateKey)),
  };
}

/**
 * A plugin-held key (`signet key add NAME --plugin P --id ID`): its public key is the leaf of the
 * chain the plugin returns, each signature one `generate-signature` call (checked against that
 * leaf by the plugin client), its r||s turned into DER. ECDSA only: cosign signs RSA keys with
 * PKCS#1 v1.5, which the Notary plugin protocol does not make.
 */
async function pluginKey(name: string | undefined): Promise<BundleKey | undefined> {
  const held = await new KeyStore().pluginKey(name);
  if (!held) return undefined;
  const { PluginClient, PluginSigner } = await import('../plugin/index.ts');
  const signer = new PluginSigner(await PluginClient.open(held.pluginName), held.id, held.pluginConfig);
  const leaf = (await signer.certificateChain())[0]!;
  const info = signatureAlgorithmFor(leaf);
  if (!info.ecSize)
    throw new SignetError(
      'KEY_UNSUPPORTED',
      `plugin key ${name ?? '(default)'} is ${info.keySpec}: a Sigstore bundle from a plugin key needs ECDSA (cosign signs RSA with PKCS#1 v1.5, which plugins do not make)`
    );
  return {
    publicKey: leaf.publicKey,
    sign: async (data) => ecdsaP1363ToDer(await signer.sign(data, info.algorithm)),
  };
}

/**
 * An @sigstore/sign `Signer` over a key: a public key, never a certificate. `hint` becomes the
 * DSSE signature's `keyid` too, which cosign leaves empty (sigstore-go skips a signature whose
 * keyid is not its own idea of the key's id), so DSSE is signed without one.
 */
function keySigner(key: BundleKey, hint = keyHint(key.publicKey)): Signer {
  const publicKey = key.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  return {
    sign: async (data: Buffer): Promise<Signature> => ({
      signature: await key.sign(data),
      key: { $case: 'publicKey', publicKey, hint },
    }),
  };
}

/**
 * Keyless signing, as `cosign sign` without `--key`: an OIDC identity token exchanged at Fulcio for a
 * short-lived certificate of an ephemeral key, the signature logged in Rekor and, with `tsaURL`,
 * timestamped by an RFC 3161 TSA. The URLs default to the public-good instance; a private
 * deployment gives its own.
 */
export interface SigstoreKeyless {
  /** The OIDC identity token (a JWT; cosign's `--identity-token`, or `SIGSTORE_ID_TOKEN`). */
  identityToken: string;
  /** Default https://fulcio.sigstore.dev. */
  fulcioURL?: string;
  /** Default https://rekor.sigstore.dev. */
  rekorURL?: string;
  /** An RFC 3161 timestamp authority (its full URL, or a base URL before `/api/v1/timestamp`). */
  tsaURL?: string;
  /**
   * Rekor's API: 1 (default; the entry carries a signed entry timestamp, which is a verified time)
   * or 2 (an inclusion proof and checkpoint, no SET: the verified time must come from a TSA).
   */
  rekorVersion?: 1 | 2;
}

/**
 * Who signs a Sigstore bundle: a private key, a key name of Signet's key store or the path of a PEM
 * private key file (PKCS#8, SEC1 EC or PKCS#1 RSA; with `passphrase` when encrypted), the default
 * key (undefined), or keyless.
 */
export type SigstoreSigner = KeyObject | string | undefined | { keyless: SigstoreKeyless };

/**
 * A private key for `--key`: a name in the key store, else a PEM private key file. A value with a
 * path separator is always a file; a plain name is looked up in the key store first (key names
 * keep their meaning), then as a file in the working directory.
 */
export async function loadSigningKey(key: string | undefined, passphrase?: string): Promise<KeyObject> {
  const isPath = key !== undefined && /[/\\]/.test(key);
  if (!isPath) {
    try {
      return (await new KeyStore().get(key, passphrase)).privateKey;
    } catch (err) {
      if (key === undefined || !(err instanceof SignetError) || err.code !== 'KEY_NOT_FOUND' || !existsSync(key))
        throw err;
    }
  }
  const file = key!;
  if (!existsSync(file)) throw new SignetError('KEY_NOT_FOUND', `no key file ${file}`);
  const pem = await readFile(file, 'utf8');
  if (pem.includes('ENCRYPTED SIGSTORE PRIVATE KEY') || pem.includes('ENCRYPTED COSIGN PRIVATE KEY'))
    throw new SignetError(
      'KEY_UNSUPPORTED',
      `${file} is in cosign's own encrypted key format; give a PEM private key (PKCS#8, SEC1 EC or RSA), e.g. import it with signet key import`
    );
  try {
    return createPrivateKey(passphrase ? { key: pem, passphrase } : pem);
  } catch (err) {
    throw new SignetError(
      'KEY_INVALID',
      `${file} is not a PEM private key${pem.includes('ENCRYPTED') && !passphrase ? ' that can be read without its passphrase' : ''}: ${(err as Error).message}`
    );
  }
}

/** The error of a Sigstore service (Fulcio, Rekor, a TSA) as a SignetError: inconclusive, the service named. */
function serviceError(err: unknown): SignetError {
  if (err instanceof SignetError) return err;
  const code = (err as { code?: string }).code;
  const cause = (err as { cause?: unknown }).cause;
  const detail = cause instanceof Error ? `: ${cause.message}` : '';
  return new SignetError(
    'UNAVAILABLE',
    `keyless signing failed${code ? ` (${code})` : ''}: ${(err as Error).message}${detail}`
  );
}

/**
 * A keyless bundle by @sigstore/sign: the Fulcio signer, the Rekor witness (and a TSA witness), a
 * DSSE envelope of `dsse` or a message signature over `data`. The v0.3 form, as cosign 3 writes
 * it: the leaf certificate alone in the verification material.
 */
export async function keylessBundle(
  keyless: SigstoreKeyless,
  content: { dsse: Buffer; payloadType?: string } | { data: Buffer }
): Promise<SerializedBundle> {
  if (!keyless.identityToken) throw new SignetError('USAGE', 'keyless signing needs an OIDC identity token');
  const signer = new FulcioSigner({
    fulcioBaseURL: keyless.fulcioURL ?? DEFAULT_FULCIO_URL,
    identityProvider: { getToken: () => Promise.resolve(keyless.identityToken) },
  });
  const witnesses: Witness[] = [
    new RekorWitness({
      rekorBaseURL: keyless.rekorURL ?? DEFAULT_REKOR_URL,
      ...(keyless.rekorVersion === 2 ? { majorApiVersion: 2 } : {}),
    }),
  ];
  if (keyless.tsaURL) witnesses.push(new TSAWitness({ tsaBaseURL: keyless.tsaURL }));
  let bundle: Bundle;
  try {
    bundle =
      'dsse' in content
        ? await new DSSEBundleBuilder({ signer, witnesses }).create({
            data: content.dsse,
            type: content.payloadType ?? IN_TOTO,
          })
        : await new MessageSignatureBundleBuilder({ signer, witnesses }).create({ data: content.data });
  } catch (err) {
    throw serviceError(err);
  }
  const json = bundleToJSON(bundle);
  // @sigstore/sign's message bundles are v0.2 (a certificate chain); v0.3 names the leaf alone
  const vm = json.verificationMaterial as { x509CertificateChain?: { certificates: Array<{ rawBytes: string }> } };
  if (vm.x509CertificateChain) {
    const leaf = vm.x509CertificateChain.certificates[0]!;
    delete vm.x509CertificateChain;
    (json.verificationMaterial as unknown as { certificate: { rawBytes: string } }).certificate = leaf;
    (json as { mediaType: string }).mediaType = SIGSTORE_BUNDLE_V03;
  }
  return json;
}

/** A bundle by `signer` (a key: no log, see keyBundle; keyless: Fulcio, Rekor and a TSA). */
async function bundleBy(
  signer: SigstoreSigner,
  passphrase: string | undefined,
  content: { dsse: Buffer; payloadType?: string } | { data: Buffer }
): Promise<{ bundle: SerializedBundle; keyless: boolean }> {
  if (signer !== undefined && typeof signer === 'object' && !(signer instanceof KeyObject))
    return { bundle: await keylessBundle(signer.keyless, content), keyless: true };
  const key =
    signer instanceof KeyObject
      ? localKey(signer)
      : ((await pluginKey(signer)) ?? localKey(await loadSigningKey(signer, passphrase)));
  return { bundle: await keyBundle(key, content), keyless: false };
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
  privateKey: KeyObject | BundleKey,
  content: { dsse: Buffer; payloadType?: string } | { data: Buffer }
): Promise<SerializedBundle> {
  const key = privateKey instanceof KeyObject ? localKey(privateKey) : privateKey;
  const hint = keyHint(key.publicKey);
  if ('dsse' in content) {
    const bundle = await new DSSEBundleBuilder({ signer: keySigner(key, ''), witnesses: [] }).create({
      data: content.dsse,
      type: content.payloadType ?? IN_TOTO,
    });
    // as cosign 3: the hint in the verification material, no keyid in the envelope
    if (bundle.verificationMaterial.content.$case === 'publicKey')
      bundle.verificationMaterial.content.publicKey.hint = hint;
    return bundleToJSON(bundle);
  }
  const signer = keySigner(key, hint);
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
 * Signs an artifact as `cosign sign` (cosign 3) does: a v0.3 bundle with a DSSE envelope of an
 * in-toto statement naming the artifact's digest, stored as a referrer. With a key (a KeyObject,
 * a key-store name or a PEM file; `--key … --tlog-upload=false`) there is no log entry; keyless
 * (`{ keyless: { identityToken, … } }`) the bundle holds a Fulcio certificate, a Rekor entry and,
 * with a TSA, an RFC 3161 timestamp.
 */
export async function signSigstoreBundle(
  ref: string,
  signer: SigstoreSigner,
  options: { open?: OpenOptions; predicateType?: string; predicate?: unknown; passphrase?: string } = {}
): Promise<{ subject: Descriptor; manifest: Descriptor; bundle: SerializedBundle; keyless: boolean }> {
  const opened = await openTarget(ref, options.open);
  try {
    const target = requireWritable(opened.target);
    const subject = await resolveOpened(opened, ref);
    const predicateType = options.predicateType ?? COSIGN_SIGN_PREDICATE;
    const { bundle, keyless } = await bundleBy(signer, options.passphrase, {
      dsse: cosignStatement(subject.digest, predicateType, options.predicate ?? {}),
    });
    const manifest = await attachSigstoreBundle(target, subject, bundle, {
      'dev.sigstore.bundle.content': 'dsse-envelope',
      'dev.sigstore.bundle.predicateType': predicateType,
      'org.opencontainers.image.created': new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    });
    return { subject, manifest, bundle, keyless };
  } finally {
    await opened.target.close();
  }
}

/**
 * A bundle of a file, as `cosign sign-blob --bundle OUT` writes it: a v0.3 message signature over
 * the file's bytes, written to `output`. By a key (`key`: a key-store name or a PEM private key
 * file; `privateKey`), without a log (`--tlog-upload=false`); or keyless (`keyless`).
 */
export async function signBlobBundle(
  file: string,
  options: {
    output: string;
    key?: string;
    passphrase?: string;
    privateKey?: KeyObject;
    keyless?: SigstoreKeyless;
  }
): Promise<{ bundlePath: string; digest: string; keyless: boolean }> {
  if (options.keyless && (options.key !== undefined || options.privateKey))
    throw new SignetError('USAGE', 'sign with a key or keyless, not both');
  const data = await readFile(file);
  const signer: SigstoreSigner = options.keyless ? { keyless: options.keyless } : (options.privateKey ?? options.key);
  const { bundle, keyless } = await bundleBy(signer, options.passphrase, { data });
  await writeFileAtomic(options.output, Buffer.from(JSON.stringify(bundle)));
  return {
    bundlePath: options.output,
    digest: `sha256:${createHash('sha256').update(data).digest('hex')}`,
    keyless,
  };
}
