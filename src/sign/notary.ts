import {
  EMPTY_JSON,
  descriptorFor,
  formatReference,
  isImageIndex,
  isValidRepositoryName,
  type Descriptor,
} from '../oci/index.ts';
import { SignerState } from '../freshness/index.ts';
import type { X509Certificate } from 'node:crypto';
import { KeyStore, requestTimestamp } from '../pki/index.ts';
import {
  BINDING_PREFIX,
  bindingAnnotations,
  COSE_MEDIA_TYPE,
  isNotarySignatureManifest,
  JWS_MEDIA_TYPE,
  LocalKeySigner,
  MAX_ENVELOPE_SIZE,
  parseEnvelope,
  readBinding,
  SIGNATURE_ARTIFACT_TYPE,
  type NameBinding,
  signatureManifest,
  signEnvelope,
  type EnvelopeGenerator,
  type PrimitiveSigner,
} from '../signature/index.ts';
import {
  fetchAll,
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
  /**
   * Layer A (docs/freshness.md): the logical name signed into `dev.signet.name`. Default: the
   * repository path; a layout has none, so without `name` a layout signature carries no binding.
   */
  name?: string;
  /** Layer A: sign no name binding at all (a plain Notary signature). */
  noNameBinding?: boolean;
  /** Layer A: this `dev.signet.seq` instead of the computed one; it must exceed every seq seen. */
  seq?: number;
  /** Layer A: the signer's own record of the seqs it signed (default `$SIGNET_HOME/state/signer`). */
  signerState?: SignerState;
}

export interface SignResult {
  /** The signed artifact, pinned by digest. */
  reference: string;
  subject: Descriptor;
  /** The signature manifest pushed as a referrer. */
  signature: Descriptor;
  envelopeMediaType: string;
  warnings: string[];
  /** Layer A: the name binding signed into the payload, when one was. */
  binding?: NameBinding;
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
  options: SignOptions = {},
  binding?: NameBinding
): Promise<{ signature: Descriptor; envelopeMediaType: string }> {
  const mediaType = (options.signatureFormat ?? 'jws') === 'cose' ? COSE_MEDIA_TYPE : JWS_MEDIA_TYPE;
  const targetDesc: Descriptor = { mediaType: subject.mediaType, digest: subject.digest, size: subject.size };
  for (const k of Object.keys(options.userMetadata ?? {}))
    if (k.startsWith(BINDING_PREFIX))
      throw new SignetError('USAGE', `metadata key ${k}: the ${BINDING_PREFIX} prefix is Signet's name binding`);
  // The binding sits where notation's user metadata goes: signed, and ignored by plain notation.
  const annotations = { ...options.userMetadata, ...(binding ? bindingAnnotations(binding) : {}) };
  if (Object.keys(annotations).length) targetDesc.annotations = annotations;
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
    const tag = parsed.digest ? undefined : parsed.tag;
    const name = options.name ?? (parsed.kind === 'registry' ? parsed.repository : undefined);
    if (options.name !== undefined && !isValidRepositoryName(options.name))
      throw new SignetError('USAGE', `the name ${options.name} is not a repository path (e.g. acme/app)`);
    const state = options.signerState ?? new SignerState();
    let binding: NameBinding | undefined;
    if (options.noNameBinding) {
      if (options.name !== undefined || options.seq !== undefined)
        throw new SignetError('USAGE', 'a name or seq binds a name: it cannot go with no name binding');
    } else if (!name) {
      warnings.push(
        `no name binding written: ${ref} is an OCI layout and has no repository name; give --name NAME to bind one (docs/freshness.md)`
      );
    } else {
      const now = options.now ?? new Date();
      binding = { name, issued: new Date(Math.floor(now.getTime() / 1000) * 1000).toISOString().replace('.000Z', 'Z') };
      if (tag) {
        binding.tag = tag;
        binding.seq = await nextSeq(target, subject, name, tag, state, now, options.seq, warnings);
      }
    }
    const signer = await resolveSigner(options);
    const subjects = [subject];
    if (options.recursive) {
      const { manifest } = await fetchManifest(target, subject);
      if (isImageIndex(manifest))
        subjects.push(...manifest.manifests.map((m) => ({ mediaType: m.mediaType, digest: m.digest, size: m.size })));
    }
    const out: SignResult[] = [];
    for (const s of subjects) {
      // Platform manifests of an index are bound to the name only: they are verified by digest.
      const b = s === subject ? binding : binding && { name: binding.name, issued: binding.issued! };
      const { signature, envelopeMediaType } = await signArtifact(target, s, signer, options, b);
      out.push({
        reference: formatReference({ ...parsed, tag: undefined, digest: s.digest } as never),
        subject: s,
        signature,
        envelopeMediaType,
        warnings: s === subject ? warnings : [],
        ...(b ? { binding: b } : {}),
      });
    }
    if (binding?.tag && binding.seq !== undefined)
      await state.record({ name: binding.name, tag: binding.tag, seq: binding.seq, digest: subject.digest });
    return out;
  } finally {
    await opened.target.close();
  }
}

/** A seen seq this far beyond the signer's clock (ms) is ignored as planted: the counter must stay usable. */
const MAX_AHEAD_MS = 366 * 24 * 3600 * 1000;

/** The highest `dev.signet.seq` for (name, tag) among the Notary signatures of one digest (read, not verified). */
async function highestSeq(target: Target, digest: Descriptor, name: string, tag: string): Promise<number | undefined> {
  let best: number | undefined;
  let listed: Descriptor[];
  try {
    listed = await target.referrers(digest, SIGNATURE_ARTIFACT_TYPE);
  } catch {
    return undefined; // a previous digest gone from the store: nothing to read
  }
  for (const r of listed.slice(0, 50)) {
    try {
      const { manifest } = await fetchManifest(target, r);
      if (!('layers' in manifest) || !isNotarySignatureManifest(manifest) || manifest.layers.length !== 1) continue;
      const layer = manifest.layers[0]!;
      const content = parseEnvelope(await fetchAll(target, layer, MAX_ENVELOPE_SIZE), layer.mediaType, {
        allowUnknownCritical: true,
      });
      const b = readBinding(content.targetArtifact.annotations);
      if (b?.name === name && b.tag === tag && b.seq !== undefined && (best === undefined || b.seq > best))
        best = b.seq;
    } catch {
      // unreadable signatures set no floor
    }
  }
  return best;
}

/**
 * The next `dev.signet.seq` for (name, tag): strictly above every seq the signer can see — the
 * Notary signatures on the digest the tag names now, those on the digest this host signed last for
 * the tag, and this host's own record — and never below the clock in milliseconds since the
 * epoch, so that a signer with no state (a fresh CI runner) still publishes a higher seq than
 * yesterday's release. docs/freshness.md explains the choice.
 */
async function nextSeq(
  target: Target,
  subject: Descriptor,
  name: string,
  tag: string,
  state: SignerState,
  now: Date,
  explicit: number | undefined,
  warnings: string[]
): Promise<number> {
  const clock = now.getTime();
  const mine = await state.last(name, tag);
  const seen: number[] = [];
  if (mine) seen.push(mine.seq);
  const current = await highestSeq(target, subject, name, tag);
  if (current !== undefined) seen.push(current);
  if (mine && mine.digest !== subject.digest) {
    const previous = await highestSeq(target, { ...subject, digest: mine.digest, size: 0 }, name, tag);
    if (previous !== undefined) seen.push(previous);
  }
  const sane = seen.filter((x) => x <= clock + MAX_AHEAD_MS);
  if (sane.length < seen.length)
    warnings.push(`ignored a dev.signet.seq more than a year ahead of this clock for ${name}:${tag}`);
  const floor = sane.length ? Math.max(...sane) : -1;
  if (explicit !== undefined) {
    if (!Number.isSafeInteger(explicit) || explicit < 0)
      throw new SignetError('USAGE', `the seq must be a non-negative whole number, not ${explicit}`);
    if (explicit <= floor)
      throw new SignetError('USAGE', `the seq ${explicit} is not above ${floor}, the highest seen for ${name}:${tag}`);
    return explicit;
  }
  return Math.max(clock, floor + 1);
}
