import { digestOf, isNotFound, OciError, type Descriptor, type ImageManifest, type Reference } from '../oci/index.ts';
import {
  COSIGN_PAYLOAD_MEDIA_TYPE,
  COSIGN_REFERRER_ARTIFACT_TYPE,
  COSIGN_SIGNATURE_ANNOTATION,
  cosignAttestationTag,
  cosignSignatureTag,
  DSSE_ENVELOPE_MEDIA_TYPE,
  FLATPAK_SIGNATURE_ANNOTATION,
  isNotarySignatureManifest,
  isSigstoreBundleType,
  legacyAttestationBundle,
  lookasideFor,
  MAX_ENVELOPE_SIZE,
  readLookaside,
  SIGNATURE_ARTIFACT_TYPE,
  SIMPLE_SIGNATURE_ARTIFACT_TYPE,
  SIMPLE_SIGNATURE_MEDIA_TYPE,
  type RegistriesD,
} from '../signature/index.ts';
import { fetchAll, fetchManifest, hasLayoutIndex, REF_NAME, type ReadableTarget } from '../store/index.ts';
import { SignetError } from '../util/index.ts';
import type { Family } from './report.ts';

/** Cosign payloads, simple and layout signatures are small; a larger one is refused unread. */
export const MAX_SMALL_SIGNATURE = 1024 * 1024;

const UNREADABLE = new Set([
  'BLOB_UNKNOWN',
  'NOT_FOUND',
  'DIGEST_MISMATCH',
  'SIZE_EXCEEDED',
  'SIZE_INVALID',
  'DIGEST_INVALID',
]);

interface CandidateBase {
  family: Family;
  digest: string;
  source: string;
  /** Set when the signature could not even be read as its family's format (an integrity failure). */
  unreadable?: string;
}
export interface NotaryCandidate extends CandidateBase {
  family: 'notary';
  envelope?: Uint8Array;
  mediaType?: string;
}
export interface CosignCandidate extends CandidateBase {
  family: 'cosign';
  payload?: Uint8Array;
  signature?: string;
}
export interface SimpleCandidate extends CandidateBase {
  family: 'simple';
  message?: Uint8Array;
}
export interface LayoutCandidate extends CandidateBase {
  family: 'layout';
  ref: string;
  signature?: Uint8Array;
}
/** A Sigstore bundle (cosign 3's default): a referrer whose manifest has a bundle artifact type. */
export interface SigstoreCandidate extends CandidateBase {
  family: 'sigstore';
  bundle?: Uint8Array;
  mediaType?: string;
}
export type Candidate = NotaryCandidate | CosignCandidate | SimpleCandidate | LayoutCandidate | SigstoreCandidate;

const EMPTY_ARTIFACT_TYPE = 'application/vnd.oci.empty.v1+json';

/** The artifact every later step talks about: resolved exactly once, named by digest from then on. */
export interface ResolvedSubject {
  target: ReadableTarget;
  parsed: Reference;
  descriptor: Descriptor;
}

export interface DiscoverOptions {
  /** Where simple signatures live beside the registry (containers registries.d). */
  registriesD?: RegistriesD;
  /** Signatures read at most (bounded work on hostile stores). */
  maxSignatures: number;
  /** No network beyond the artifact's own store: an http(s) lookaside is not read. */
  offline?: boolean;
  /**
   * The families some requirement reads (default: all). The places only one family uses are not
   * looked at for the others: cosign's `.sig` tag (cosign), its `.att` tag (sigstore), the
   * lookaside (simple). A verification under a Notary trust policy alone makes one referrers
   * round trip and no tag lookups. Referrers are listed whatever their family.
   */
  families?: ReadonlySet<Candidate['family']>;
}

function layerOf(manifest: ImageManifest, mediaType: string): Descriptor | undefined {
  return manifest.layers.find((l) => l.mediaType === mediaType);
}

async function cosignLayers(
  target: ReadableTarget,
  manifest: ImageManifest,
  source: string,
  out: Candidate[]
): Promise<void> {
  for (const layer of manifest.layers) {
    const signature = layer.annotations?.[COSIGN_SIGNATURE_ANNOTATION];
    const c: CosignCandidate = { family: 'cosign', digest: layer.digest, source };
    if (layer.mediaType !== COSIGN_PAYLOAD_MEDIA_TYPE || !signature) c.unreadable = 'not a cosign simple-signing layer';
    else if (layer.size > MAX_SMALL_SIGNATURE) c.unreadable = `the payload is ${layer.size} bytes, over the limit`;
    else {
      c.payload = await fetchAll(target, layer, MAX_SMALL_SIGNATURE);
      c.signature = signature;
    }
    out.push(c);
  }
}

/** cosign's signatures under the `sha256-<hex>.sig` tag. */
async function cosignTag(target: ReadableTarget, descriptor: Descriptor, out: Candidate[]): Promise<void> {
  const sigTag = cosignSignatureTag(descriptor.digest);
  try {
    const d = await target.resolve(sigTag);
    const { manifest } = await fetchManifest(target, d);
    if ('layers' in manifest) await cosignLayers(target, manifest as ImageManifest, `tag ${sigTag}`, out);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}

/** cosign's legacy attestations: DSSE envelopes under `sha256-<hex>.att`, each read as the bundle it amounts to. */
async function attestationTag(
  target: ReadableTarget,
  descriptor: Descriptor,
  maxSignatures: number,
  out: Candidate[]
): Promise<void> {
  const attTag = cosignAttestationTag(descriptor.digest);
  try {
    const d = await target.resolve(attTag);
    const { manifest } = await fetchManifest(target, d);
    for (const layer of 'layers' in manifest ? (manifest as ImageManifest).layers : []) {
      if (out.length >= maxSignatures) break;
      const c: SigstoreCandidate = { family: 'sigstore', digest: layer.digest, source: `tag ${attTag}` };
      if (layer.mediaType !== DSSE_ENVELOPE_MEDIA_TYPE)
        c.unreadable = `a layer of type ${layer.mediaType}, not a DSSE envelope`;
      else if (layer.size > MAX_SMALL_SIGNATURE)
        c.unreadable = `the envelope is ${layer.size} bytes, over the ${MAX_SMALL_SIGNATURE}-byte limit`;
      else {
        try {
          c.bundle = legacyAttestationBundle(await fetchAll(target, layer, MAX_SMALL_SIGNATURE), layer.annotations);
          c.mediaType = `${DSSE_ENVELOPE_MEDIA_TYPE} (cosign .att)`;
        } catch (err) {
          if (!(err instanceof SignetError)) throw err;
          c.unreadable = err.message;
        }
      }
      out.push(c);
    }
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}

/**
 * Finds every signature of every family for the resolved artifact, in one pass: the referrers
 * (API or tag schema, one listing), cosign's `sha256-<hex>.sig` tag, the simple-signing lookaside
 * and a layout's `index.json` annotations. Every byte is fetched by digest and bounded; nothing
 * here judges a signature, it only reads it.
 */
export async function discoverSignatures(subject: ResolvedSubject, options: DiscoverOptions): Promise<Candidate[]> {
  const { target, descriptor } = subject;
  const out: Candidate[] = [];
  for (const r of await target.referrers(descriptor)) {
    // A listing may omit the artifact type (older manifests carry it as the config media type):
    // then the manifest itself says what it is.
    let fetched: ImageManifest | undefined;
    const manifestOf = async (): Promise<ImageManifest | undefined> => {
      if (!fetched) {
        const { manifest } = await fetchManifest(target, r);
        if ('layers' in manifest) fetched = manifest as ImageManifest;
      }
      return fetched;
    };
    // cosign's tag-schema index lists its bundle manifests as the empty type: the manifest says what it is.
    const type =
      r.artifactType && r.artifactType !== EMPTY_ARTIFACT_TYPE
        ? r.artifactType
        : await manifestOf().then((m) => m?.artifactType ?? m?.config.mediaType);
    if (type === SIGNATURE_ARTIFACT_TYPE) {
      const c: NotaryCandidate = { family: 'notary', digest: r.digest, source: 'referrers' };
      out.push(c);
      const manifest = await manifestOf();
      const layer =
        manifest && isNotarySignatureManifest(manifest) && manifest.layers.length === 1
          ? manifest.layers[0]
          : undefined;
      if (!layer || manifest?.subject?.digest !== descriptor.digest) {
        c.unreadable = 'not a Notary Project signature manifest (one envelope layer, subject = the artifact)';
      } else if (layer.size > MAX_ENVELOPE_SIZE) {
        c.unreadable = `signature envelope is ${layer.size} bytes, over the ${MAX_ENVELOPE_SIZE}-byte limit`;
      } else {
        c.envelope = await fetchAll(target, layer, MAX_ENVELOPE_SIZE);
        c.mediaType = layer.mediaType;
      }
    } else if (type === COSIGN_REFERRER_ARTIFACT_TYPE) {
      const manifest = await manifestOf();
      if (manifest) await cosignLayers(target, manifest, `referrer ${r.digest}`, out);
    } else if (isSigstoreBundleType(type)) {
      const c: SigstoreCandidate = { family: 'sigstore', digest: r.digest, source: 'referrers' };
      const manifest = await manifestOf();
      const layer = manifest?.layers.length === 1 ? manifest.layers[0] : undefined;
      if (!layer || !isSigstoreBundleType(layer.mediaType) || manifest?.subject?.digest !== descriptor.digest)
        c.unreadable = 'not a Sigstore bundle manifest (one bundle layer, subject = the artifact)';
      else if (layer.size > MAX_SMALL_SIGNATURE)
        c.unreadable = `the bundle is ${layer.size} bytes, over the ${MAX_SMALL_SIGNATURE}-byte limit`;
      else {
        c.bundle = await fetchAll(target, layer, MAX_SMALL_SIGNATURE);
        c.mediaType = layer.mediaType;
      }
      out.push(c);
    } else if (type === SIMPLE_SIGNATURE_ARTIFACT_TYPE) {
      const manifest = await manifestOf();
      const layer = manifest ? layerOf(manifest, SIMPLE_SIGNATURE_MEDIA_TYPE) : undefined;
      if (layer && layer.size <= MAX_SMALL_SIGNATURE) {
        const message = await fetchAll(target, layer, MAX_SMALL_SIGNATURE);
        out.push({ family: 'simple', digest: digestOf(message), source: 'referrers', message });
      } else
        out.push({
          family: 'simple',
          digest: r.digest,
          source: 'referrers',
          unreadable: 'no simple signature layer within the size limit',
        });
    }
    if (out.length >= options.maxSignatures) return out.slice(0, options.maxSignatures);
  }
  const wants = (f: Candidate['family']): boolean => !options.families || options.families.has(f);
  if (wants('cosign')) await cosignTag(target, descriptor, out);
  if (wants('sigstore')) await attestationTag(target, descriptor, options.maxSignatures, out);
  const parsed = subject.parsed;
  const base =
    parsed.kind === 'registry' && options.registriesD
      ? lookasideFor(options.registriesD, parsed.registry, parsed.repository)
      : undefined;
  if (base && wants('simple') && parsed.kind === 'registry' && !(options.offline && /^https?:/i.test(base))) {
    const seen = new Set(out.map((c) => c.digest));
    for (const [i, message] of (await readLookaside(base, parsed.repository, descriptor.digest)).entries()) {
      const digest = digestOf(message);
      if (!seen.has(digest)) out.push({ family: 'simple', digest, source: `lookaside signature-${i + 1}`, message });
    }
  }
  if (hasLayoutIndex(target)) {
    const index = await target.readIndex();
    for (const e of index.manifests) {
      const ref = e.annotations?.[REF_NAME];
      const sig = e.annotations?.[FLATPAK_SIGNATURE_ANNOTATION];
      if (e.digest !== descriptor.digest || !ref || !sig) continue;
      if (parsed.tag && parsed.tag !== ref) continue;
      const c: LayoutCandidate = { family: 'layout', digest: sig, source: `index.json ${ref}`, ref };
      try {
        c.signature = await target.fetchByDigest(sig, MAX_SMALL_SIGNATURE);
      } catch (err) {
        if (!(err instanceof OciError) || !UNREADABLE.has(err.code)) throw err;
        c.unreadable = `the signature blob ${sig}: ${(err as Error).message}`;
      }
      out.push(c);
    }
  }
  return out.slice(0, options.maxSignatures);
}
