import { EMPTY_JSON, descriptorFor, formatReference, isImageIndex, type Descriptor } from '../oci/index.ts';
import type { X509Certificate } from 'node:crypto';
import { KeyStore, requestTimestamp } from '../pki/index.ts';
import {
  COSE_MEDIA_TYPE,
  JWS_MEDIA_TYPE,
  LocalKeySigner,
  signatureManifest,
  signEnvelope,
  type EnvelopeGenerator,
  type PrimitiveSigner,
} from '../signature/index.ts';
import {
  fetchManifest,
  openTarget,
  resolveOpened,
  requireWritable,
  type OpenOptions,
  type Target,
} from '../store/index.ts';
import { SignetError } from '../util/index.ts';
import { attachReferrer } from './attach.ts';

export interface SignOptions {
  /** Key name in the key store (default: the default key). */
  key?: string;
  passphrase?: string;
  /** A signer that holds its own key (plugin, HSM); overrides `key`. */
  signer?: PrimitiveSigner;
  keyStore?: KeyStore;
  signatureFormat?: 'jws' | 'cose';
  /** Signature lifetime in seconds (the expiry attribute). */
  expirySeconds?: number;
  /** Signed annotations of the target descriptor, checked by `verify -m k=v`. */
  userMetadata?: Record<string, string>;
  /** Also sign every platform manifest of an index. */
  recursive?: boolean;
  open?: OpenOptions;
  /** Signing time (tests). */
  now?: Date;
  timestamp?: Parameters<typeof signEnvelope>[0]['timestamp'];
  /** Sign with a key held by a plugin (overrides `key`). */
  plugin?: { pluginName: string; id: string; pluginConfig?: Record<string, string> };
  /** Extra plugin configuration (`--plugin-config k=v`), over the key's registered one. */
  pluginConfig?: Record<string, string>;
  /** RFC 3161 TSA URL; the token is checked against `timestampRoots` before it is embedded. */
  timestampUrl?: string;
  timestampRoots?: X509Certificate[];
}

export interface SignResult {
  /** The signed artifact, pinned by digest. */
  reference: string;
  subject: Descriptor;
  /** The signature manifest pushed as a referrer. */
  signature: Descriptor;
  envelopeMediaType: string;
  warnings: string[];
}

function timestamper(options: SignOptions): SignOptions['timestamp'] {
  if (options.timestamp) return options.timestamp;
  if (!options.timestampUrl) return undefined;
  if (!options.timestampRoots?.length)
    throw new SignetError(
      'USAGE',
      'a timestamp URL needs the TSA root certificates (timestampRoots) to check the token against'
    );
  const url = options.timestampUrl;
  const roots = options.timestampRoots;
  return (signature, hash) => requestTimestamp(url, signature, hash, roots);
}

async function resolveSigner(options: SignOptions): Promise<PrimitiveSigner | EnvelopeGenerator> {
  if (options.signer) return options.signer;
  const store = options.keyStore ?? new KeyStore();
  const viaPlugin = options.plugin ?? (await store.pluginKey(options.key));
  if (viaPlugin) {
    const { PluginClient, PluginSigner, PluginEnvelopeGenerator } = await import('../plugin/index.ts');
    const client = await PluginClient.open(viaPlugin.pluginName);
    const config = { ...viaPlugin.pluginConfig, ...options.pluginConfig };
    const caps = (await client.metadata(config)).capabilities;
    // RAW keeps the envelope in Signet's hands; ENVELOPE is used when that is all the plugin offers.
    if (!caps.includes('SIGNATURE_GENERATOR.RAW') && caps.includes('SIGNATURE_GENERATOR.ENVELOPE'))
      return new PluginEnvelopeGenerator(client, viaPlugin.id, config);
    return new PluginSigner(client, viaPlugin.id, config);
  }
  const key = await store.get(options.key, options.passphrase);
  return new LocalKeySigner(key.privateKey, key.chain);
}

/** Signs one descriptor in a target and pushes the signature beside it as a referrer. */
export async function signArtifact(
  target: Target,
  subject: Descriptor,
  signer: PrimitiveSigner | EnvelopeGenerator,
  options: SignOptions = {}
): Promise<{ signature: Descriptor; envelopeMediaType: string }> {
  const mediaType = (options.signatureFormat ?? 'jws') === 'cose' ? COSE_MEDIA_TYPE : JWS_MEDIA_TYPE;
  const targetDesc: Descriptor = { mediaType: subject.mediaType, digest: subject.digest, size: subject.size };
  if (options.userMetadata && Object.keys(options.userMetadata).length)
    targetDesc.annotations = { ...options.userMetadata };
  if ('generateEnvelope' in signer) {
    // The plugin builds the envelope; it was checked on the way back (signature, chain, target).
    const g = await signer.generateEnvelope(targetDesc, mediaType, options.expirySeconds);
    const envDesc = descriptorFor(mediaType, g.envelope);
    const { manifest } = signatureManifest(envDesc, subject, g.chain, g.signingTime, g.annotations);
    const signature = await attachReferrer(target, manifest, [
      { descriptor: EMPTY_JSON, data: Buffer.from('{}') },
      { descriptor: envDesc, data: g.envelope },
    ]);
    return { signature, envelopeMediaType: mediaType };
  }
  const signingTime = new Date(Math.floor((options.now ?? new Date()).getTime() / 1000) * 1000);
  const envelope = await signEnvelope(
    {
      target: targetDesc,
      signer,
      signingTime,
      ...(options.expirySeconds ? { expiry: new Date(signingTime.getTime() + options.expirySeconds * 1000) } : {}),
      ...(timestamper(options) ? { timestamp: timestamper(options)! } : {}),
    },
    mediaType
  );
  const envDesc = descriptorFor(mediaType, envelope);
  const { manifest } = signatureManifest(envDesc, subject, await signer.certificateChain(), signingTime);
  const signature = await attachReferrer(target, manifest, [
    { descriptor: EMPTY_JSON, data: Buffer.from('{}') },
    { descriptor: envDesc, data: envelope },
  ]);
  return { signature, envelopeMediaType: mediaType };
}

/**
 * `signet sign`: resolves the reference (a tag is resolved to a digest first, with a warning:
 * tags are mutable), signs the artifact and stores the signature as its referrer.
 */
export async function sign(ref: string, options: SignOptions = {}): Promise<SignResult[]> {
  const opened = await openTarget(ref, options.open);
  const { parsed } = opened;
  try {
    const target = requireWritable(opened.target);
    const root = await resolveOpened(opened, ref);
    const warnings: string[] = [];
    if (!parsed.digest)
      warnings.push(`${ref} is a tag, and tags are mutable: signing the digest it points to now, ${root.digest}`);
    const subject: Descriptor = { mediaType: root.mediaType, digest: root.digest, size: root.size };
    const signer = await resolveSigner(options);
    const subjects = [subject];
    if (options.recursive) {
      const { manifest } = await fetchManifest(target, subject);
      if (isImageIndex(manifest))
        subjects.push(...manifest.manifests.map((m) => ({ mediaType: m.mediaType, digest: m.digest, size: m.size })));
    }
    const out: SignResult[] = [];
    for (const s of subjects) {
      const { signature, envelopeMediaType } = await signArtifact(target, s, signer, options);
      out.push({
        reference: formatReference({ ...parsed, tag: undefined, digest: s.digest } as never),
        subject: s,
        signature,
        envelopeMediaType,
        warnings: s === subject ? warnings : [],
      });
    }
    return out;
  } finally {
    await opened.target.close();
  }
}
