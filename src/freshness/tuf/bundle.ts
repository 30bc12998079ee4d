import {
  EMPTY_JSON,
  MediaType,
  OciError,
  descriptorFor,
  encodeManifest,
  type Descriptor,
  type ImageManifest,
} from '../../oci/index.ts';
import { fetchAll, fetchManifest, type ReadStore, type Target } from '../../store/index.ts';
import { SignetError } from '../../util/index.ts';

/**
 * The TUF repository as ONE OCI artifact (tuf-design.md §7.3, the Docker convention): an image
 * manifest with `artifactType` TUF_BUNDLE_ARTIFACT_TYPE, the empty config, and one layer per
 * metadata file (`application/vnd.tuf.metadata+json`, annotation `tuf.io/filename`): every
 * `N.root.json` of the chain, `root.json`, `targets.json`, `snapshot.json`, `timestamp.json`.
 * Self-contained, so one `signet copy` of the tag moves the whole trust state.
 */
export const TUF_METADATA_MEDIA_TYPE = 'application/vnd.tuf.metadata+json';
export const TUF_BUNDLE_ARTIFACT_TYPE = 'application/vnd.tuf.metadata.bundle.v1+json';
export const TUF_FILENAME_ANNOTATION = 'tuf.io/filename';
/** More layers than this is not a TUF repository Signet wrote (root chains included). */
const MAX_LAYERS = 1100;
/** Top-level role files (with a version prefix: the root chain), and delegated roles' files (ROLE_NAME_RE). */
const FILENAME_RE = /^(?:(?:[1-9]\d{0,9}\.)?(?:root|targets|snapshot|timestamp)|[a-z0-9][a-z0-9_-]{0,63})\.json$/;
/** A delegated targets role's name: lower-case letters, digits, `-` and `_`, not a top-level role. */
export const ROLE_NAME_RE = /^[a-z0-9][a-z0-9_-]{0,63}$/;

export interface BundleIndex {
  /** The bundle manifest's descriptor (resolved once). */
  manifest: Descriptor;
  /** Each metadata file's layer by filename. */
  files: Map<string, Descriptor>;
}

/** Pushes the files as the bundle and points `tag` at it; blobs the store has are not pushed again. */
export async function writeBundle(target: Target, tag: string, files: Map<string, Uint8Array>): Promise<Descriptor> {
  const layers: Descriptor[] = [];
  for (const [filename, bytes] of files) {
    const d = descriptorFor(TUF_METADATA_MEDIA_TYPE, bytes);
    if (!(await target.exists(d))) await target.push(d, bytes);
    layers.push({ ...d, annotations: { [TUF_FILENAME_ANNOTATION]: filename } });
  }
  const config = { mediaType: EMPTY_JSON.mediaType, digest: EMPTY_JSON.digest, size: EMPTY_JSON.size };
  if (!(await target.exists(config))) await target.push(config, Buffer.from('{}'));
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.ImageManifest,
    artifactType: TUF_BUNDLE_ARTIFACT_TYPE,
    config,
    layers,
  } as ImageManifest;
  const bytes = encodeManifest(manifest);
  const desc = descriptorFor(MediaType.ImageManifest, bytes);
  await target.push(desc, bytes);
  await target.tag(desc, tag, { manifest: bytes });
  return desc;
}

/** Resolves the bundle once and lists its metadata layers (the manifest is read with the store's manifest bound). */
export async function readBundleIndex(target: ReadStore, reference: string): Promise<BundleIndex> {
  const desc = await target.resolve(reference);
  const manifestDesc = { mediaType: desc.mediaType, digest: desc.digest, size: desc.size };
  const { manifest } = await fetchManifest(target, manifestDesc);
  const bad = (why: string): never => {
    throw new SignetError('VERIFICATION_FAILED', `${target.name}:${reference} is not a TUF metadata bundle: ${why}`);
  };
  if (!('layers' in manifest) || !Array.isArray(manifest.layers)) return bad('not an image manifest');
  if (manifest.artifactType !== TUF_BUNDLE_ARTIFACT_TYPE)
    bad(`artifactType ${manifest.artifactType ?? '(none)'}, not ${TUF_BUNDLE_ARTIFACT_TYPE}`);
  if (manifest.layers.length > MAX_LAYERS) bad(`${manifest.layers.length} layers (at most ${MAX_LAYERS})`);
  const files = new Map<string, Descriptor>();
  for (const l of manifest.layers) {
    const name = l.annotations?.[TUF_FILENAME_ANNOTATION];
    if (l.mediaType !== TUF_METADATA_MEDIA_TYPE) bad(`a layer of media type ${l.mediaType}`);
    if (!name || !FILENAME_RE.test(name)) bad(`a layer named ${JSON.stringify(name ?? null)}`);
    if (files.has(name!)) bad(`two layers named ${name}`);
    files.set(name!, l);
  }
  return { manifest: manifestDesc, files };
}

/**
 * One metadata file, read with a bound: a layer whose descriptor is over `cap` is refused before
 * a byte is fetched, and the verifying stream never yields more than the descriptor's size (an
 * endless body ends in a size or digest error, not in memory).
 */
export async function readMetadataFile(
  target: ReadStore,
  index: BundleIndex,
  filename: string,
  cap: number
): Promise<Uint8Array | undefined> {
  const d = index.files.get(filename);
  if (!d) return undefined;
  if (d.size > cap)
    throw new OciError('SIZE_EXCEEDED', `${filename} is ${d.size} bytes, over the ${cap}-byte limit for it: not read`);
  return fetchAll(target, d, cap);
}
