import type { IncomingMessage, ServerResponse } from 'node:http';
import { isValidRepositoryName, parseManifest, type ImageManifest } from '../oci/index.ts';
import { RegistryError } from './errors.ts';
import type { RegistryStorage } from './storage.ts';

// Must match the artifact type signet uses for simple signatures kept as referrers (docs/formats.md).
const SIMPLE_SIGNATURE_ARTIFACT_TYPE = 'application/vnd.signet.containers.simple-signature.v1';
const SIMPLE_SIGNATURE_MEDIA_TYPE = 'application/vnd.signet.containers.simple-signature.v1+pgp';

/**
 * A lookaside server over the registry's own referrers: `GET /lookaside/<repo>@sha256=<hex>/signature-N`
 * answers the N-th simple signature attached to that manifest, so containers/image and Flatpak
 * 1.17+ clients can use `signet serve` as their lookaside base (`lookaside: http://HOST/lookaside`).
 */
export async function serveLookaside(
  storage: RegistryStorage,
  path: string,
  res: ServerResponse,
  _req: IncomingMessage
): Promise<void> {
  const m = /^\/lookaside\/(.+)@(sha256|sha512)=([a-f0-9]+)\/signature-([1-9][0-9]{0,3})$/.exec(path);
  if (!m || !isValidRepositoryName(m[1]!))
    throw new RegistryError('NOT_FOUND', 'not a lookaside path: /lookaside/<repo>@sha256=<hex>/signature-<n>', 404);
  const repo = m[1]!;
  const digest = `${m[2]}:${m[3]}`;
  const n = Number(m[4]);
  const refs = (await storage.referrers(repo, digest)).filter((d) => d.artifactType === SIMPLE_SIGNATURE_ARTIFACT_TYPE);
  const ref = refs[n - 1];
  if (!ref) throw new RegistryError('NOT_FOUND', `no signature-${n} for ${repo}@${digest}`, 404);
  const info = await storage.manifestInfo(repo, ref.digest);
  if (!info) throw new RegistryError('NOT_FOUND', 'signature manifest missing', 404);
  const manifest = parseManifest(await storage.readManifest(ref.digest), info.mediaType) as ImageManifest;
  const layer = manifest.layers?.find((l) => l.mediaType === SIMPLE_SIGNATURE_MEDIA_TYPE);
  if (!layer || (await storage.blobSize(repo, layer.digest)) === null)
    throw new RegistryError('NOT_FOUND', 'signature blob missing', 404);
  const bytes = await storage.readManifest(layer.digest);
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) });
  res.end(bytes);
}
