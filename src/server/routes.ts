import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  MAX_MANIFEST_SIZE,
  MediaType,
  OciError,
  digestOf,
  isManifestMediaType,
  isValidRepositoryName,
  isValidTag,
  parseDigest,
  parseManifest,
  type Manifest,
} from '../oci/index.ts';
import { authorizeRoute, checkSignerWrite, maySign, signatureTagSubject } from './access.ts';
import type { Authorizer } from './auth/types.ts';
import type { Enforcer } from './enforcement/types.ts';
import { RegistryError } from './errors.ts';
import type { ErrorCode } from '../util/index.ts';
import type { RegistryStorage } from './storage.ts';

export interface Limits {
  /** Largest manifest accepted (DESIGN §5: 4 MiB). */
  maxManifestSize: number;
  /** Largest blob accepted, in bytes. */
  maxBlobSize: number;
  /** Upload sessions in flight at once before 429. */
  maxConcurrentUploads: number;
  /** Largest page of tags/catalog/referrers. */
  maxPageSize: number;
}

export const DEFAULT_LIMITS: Limits = {
  maxManifestSize: MAX_MANIFEST_SIZE,
  maxBlobSize: 64 * 1024 * 1024 * 1024,
  maxConcurrentUploads: 256,
  maxPageSize: 10_000,
};

export interface RouteContext {
  storage: RegistryStorage;
  limits: Limits;
  authorizer?: Authorizer;
  enforcer?: Enforcer;
  activeUploads: { n: number };
}

export type Route =
  | { kind: 'base' }
  | { kind: 'catalog' }
  | { kind: 'tags'; name: string }
  | { kind: 'manifest'; name: string; reference: string }
  | { kind: 'blob'; name: string; digest: string }
  | { kind: 'uploads'; name: string }
  | { kind: 'upload'; name: string; uuid: string }
  | { kind: 'referrers'; name: string; digest: string };

// Repository names contain '/', so a path router cannot tell the name from the endpoint; the
// endpoint suffixes are fixed, so they are matched from the end and the rest is the name, which
// is then checked against the spec's grammar (that also rules out '..', '//' and encoded bytes).
const SHAPES: Array<[RegExp, (m: RegExpExecArray) => Route]> = [
  [/^\/v2\/?$/, () => ({ kind: 'base' })],
  [/^\/v2\/_catalog$/, () => ({ kind: 'catalog' })],
  [/^\/v2\/(.+)\/tags\/list$/, (m) => ({ kind: 'tags', name: m[1]! })],
  [/^\/v2\/(.+)\/manifests\/([^/]+)$/, (m) => ({ kind: 'manifest', name: m[1]!, reference: m[2]! })],
  [/^\/v2\/(.+)\/blobs\/uploads\/?$/, (m) => ({ kind: 'uploads', name: m[1]! })],
  [/^\/v2\/(.+)\/blobs\/uploads\/([^/]+)$/, (m) => ({ kind: 'upload', name: m[1]!, uuid: m[2]! })],
  [/^\/v2\/(.+)\/blobs\/([^/]+)$/, (m) => ({ kind: 'blob', name: m[1]!, digest: m[2]! })],
  [/^\/v2\/(.+)\/referrers\/([^/]+)$/, (m) => ({ kind: 'referrers', name: m[1]!, digest: m[2]! })],
];

export function matchRoute(pathname: string): Route | null {
  for (const [re, make] of SHAPES) {
    const m = re.exec(pathname);
    if (m) return make(m);
  }
  return null;
}

/** Handles one /v2/ request. Throws RegistryError (or OciError) for error answers. */
export async function handle(ctx: RouteContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const rawPath = (req.url ?? '/').split('?')[0]!;
  const url = new URL(req.url ?? '/', 'http://registry.invalid');
  const method = req.method ?? 'GET';
  res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
  const route = matchRoute(rawPath);
  if (!route) throw new RegistryError('NOT_FOUND', `no such endpoint: ${method} ${rawPath.slice(0, 200)}`, 404);
  if ('name' in route && !isValidRepositoryName(route.name)) {
    throw new RegistryError('NAME_INVALID', `invalid repository name ${JSON.stringify(route.name.slice(0, 300))}`);
  }
  const { signerOnly } = await authorizeRoute(ctx.authorizer, req, route, method, url);
  switch (route.kind) {
    case 'base':
      return allow(method, ['GET', 'HEAD'], () => sendJson(res, 200, {}));
    case 'catalog':
      return allow(method, ['GET'], () => catalog(ctx, url, res));
    case 'tags':
      return allow(method, ['GET'], () => tags(ctx, route.name, url, res));
    case 'manifest':
      if (method === 'GET' || method === 'HEAD')
        return getManifest(ctx, route.name, route.reference, method === 'HEAD', req, res);
      if (method === 'PUT') return putManifest(ctx, route.name, route.reference, url, req, res, signerOnly);
      if (method === 'DELETE') return deleteManifest(ctx, route.name, route.reference, res);
      throw notAllowed(method);
    case 'blob':
      if (method === 'GET' || method === 'HEAD')
        return getBlob(ctx, route.name, route.digest, method === 'HEAD', req, res);
      if (method === 'DELETE') return deleteBlob(ctx, route.name, route.digest, res);
      throw notAllowed(method);
    case 'uploads':
      return allow(method, ['POST'], () => startUpload(ctx, route.name, url, req, res));
    case 'upload':
      return upload(ctx, route.name, route.uuid, method, url, req, res);
    case 'referrers':
      return allow(method, ['GET'], () => referrers(ctx, route.name, route.digest, url, res));
  }
}

function notAllowed(method: string): RegistryError {
  return new RegistryError('UNSUPPORTED', `method ${method} is not supported here`, 405);
}

async function allow(method: string, methods: string[], fn: () => Promise<void> | void): Promise<void> {
  if (!methods.includes(method)) throw notAllowed(method);
  await fn();
}

function sendJson(
  res: ServerResponse,
  status: number,
  value: unknown,
  headers: Record<string, string> = {},
  head = false
): void {
  const body = Buffer.from(JSON.stringify(value));
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': body.length, ...headers });
  res.end(head ? undefined : body);
}

function validDigest(d: string, code: ErrorCode = 'DIGEST_INVALID'): string {
  try {
    parseDigest(d);
    return d;
  } catch (err) {
    throw new RegistryError(code, (err as Error).message);
  }
}

/** n/last pagination of a sorted list, with the Link header of the spec. */
function paginate(items: string[], url: URL, max: number, path: string): { page: string[]; link?: string } {
  const nParam = url.searchParams.get('n');
  const last = url.searchParams.get('last');
  let start = 0;
  if (last !== null) {
    start = items.findIndex((t) => t > last);
    if (start < 0) start = items.length;
  }
  let n = max;
  if (nParam !== null) {
    if (!/^\d+$/.test(nParam)) throw new RegistryError('PAGINATION_NUMBER_INVALID', `invalid n=${nParam}`, 400);
    n = Math.min(Number(nParam), max);
  }
  const page = items.slice(start, start + n);
  if (n > 0 && start + n < items.length) {
    return { page, link: `<${path}?n=${n}&last=${encodeURIComponent(page[page.length - 1]!)}>; rel="next"` };
  }
  return { page };
}

async function catalog(ctx: RouteContext, url: URL, res: ServerResponse): Promise<void> {
  const repos = await ctx.storage.listRepositories();
  const { page, link } = paginate(repos, url, ctx.limits.maxPageSize, '/v2/_catalog');
  sendJson(res, 200, { repositories: page }, link ? { Link: link } : {});
}

async function tags(ctx: RouteContext, name: string, url: URL, res: ServerResponse): Promise<void> {
  const all = await ctx.storage.listTags(name);
  if (all === null) throw new RegistryError('NAME_UNKNOWN', `repository ${name} is not known to this registry`);
  const { page, link } = paginate(all, url, ctx.limits.maxPageSize, `/v2/${name}/tags/list`);
  sendJson(res, 200, { name, tags: page }, link ? { Link: link } : {});
}

/** Resolves a tag or digest in a repository to {digest, mediaType, size}, or throws MANIFEST_UNKNOWN. */
async function resolveManifest(
  ctx: RouteContext,
  name: string,
  reference: string
): Promise<{ digest: string; mediaType: string; size: number }> {
  let digest: string | null;
  if (reference.includes(':')) {
    digest = validDigest(reference);
  } else {
    digest = isValidTag(reference) ? await ctx.storage.tagDigest(name, reference) : null;
  }
  const info = digest ? await ctx.storage.manifestInfo(name, digest) : null;
  if (!digest || !info)
    throw new RegistryError('MANIFEST_UNKNOWN', `manifest ${reference} is not known to repository ${name}`);
  return { digest, ...info };
}

async function getManifest(
  ctx: RouteContext,
  name: string,
  reference: string,
  head: boolean,
  req: IncomingMessage,
  res: ServerResponse
): Promise<void> {
  const m = await resolveManifest(ctx, name, reference);
  // HEAD reveals digest, size and media type only: what a signer resolves with. GET is enforced.
  if (ctx.enforcer && !head) {
    const verdict = await ctx.enforcer.verdict(name, reference, m);
    res.setHeader('Signet-Verdict', verdict.outcome);
    if (!verdict.allowed && !(await maySign(ctx.authorizer, req, name))) {
      throw new RegistryError('DENIED', `not verified: ${verdict.message}`, 403, {}, { digest: m.digest });
    }
  }
  const headers = {
    'content-type': m.mediaType,
    'content-length': String(m.size),
    'Docker-Content-Digest': m.digest,
    ETag: `"${m.digest}"`,
  };
  if (head) {
    res.writeHead(200, headers);
    res.end();
    return;
  }
  const bytes = await ctx.storage.readManifest(m.digest);
  res.writeHead(200, headers);
  res.end(bytes);
}

/** Reads a request body into memory, refusing more than `max` bytes (declared or actual). */
export async function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > max) {
    throw new RegistryError('SIZE_INVALID', `body of ${declared} bytes exceeds the ${max}-byte limit`, 413);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req) {
    total += (chunk as Buffer).length;
    if (total > max) throw new RegistryError('SIZE_INVALID', `body exceeds the ${max}-byte limit`, 413);
    chunks.push(chunk as Buffer);
  }
  if (declared !== undefined && total !== Number(declared)) {
    throw new RegistryError('SIZE_INVALID', `body has ${total} bytes, Content-Length said ${declared}`);
  }
  return Buffer.concat(chunks, total);
}

async function putManifest(
  ctx: RouteContext,
  name: string,
  reference: string,
  url: URL,
  req: IncomingMessage,
  res: ServerResponse,
  signerOnly = false
): Promise<void> {
  const mediaType = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
  let tag: string | undefined;
  if (reference.includes(':')) validDigest(reference);
  else if (!isValidTag(reference))
    throw new RegistryError('MANIFEST_INVALID', `invalid tag ${JSON.stringify(reference.slice(0, 200))}`);
  else tag = reference;
  const bytes = await readBody(req, ctx.limits.maxManifestSize);
  if (!isManifestMediaType(mediaType)) {
    throw new RegistryError(
      'MANIFEST_INVALID',
      `unsupported manifest media type ${JSON.stringify(mediaType)} (Content-Type)`
    );
  }
  // A push by tag may name its digest (`?digest=`): its algorithm is the one the manifest is
  // stored and answered under (a sha512 index stays sha512), and the bytes must match it.
  const named = tag === undefined ? reference : (url.searchParams.get('digest') ?? undefined);
  const algorithm = named === undefined ? 'sha256' : parseDigest(validDigest(named)).algorithm;
  const digest = digestOf(bytes, algorithm);
  if (named !== undefined && digest !== named) {
    throw new RegistryError('DIGEST_INVALID', `manifest digest ${digest} does not match ${named}`);
  }
  let manifest: Manifest;
  try {
    manifest = parseManifest(bytes, mediaType);
  } catch (err) {
    throw new RegistryError('MANIFEST_INVALID', (err as Error).message);
  }
  if (signerOnly)
    await checkSignerWrite(name, tag, manifest, async (d) => (await ctx.storage.manifestInfo(name, d)) !== null);
  // Every blob it references and every manifest an index lists must be here: the store checks
  // that under the repository's lock (a delete may run between a check here and the write).
  await ctx.storage.putManifest(name, bytes, mediaType, digest, manifest, tag);
  // Cached verdicts about the subject are stale the moment a signature of it lands.
  if (manifest.subject) ctx.enforcer?.invalidate(name, manifest.subject.digest);
  const tagSubject = tag === undefined ? null : signatureTagSubject(tag);
  if (tagSubject) ctx.enforcer?.invalidate(name, tagSubject);
  const headers: Record<string, string> = {
    Location: `/v2/${name}/manifests/${digest}`,
    'Docker-Content-Digest': digest,
    'content-length': '0',
  };
  if (manifest.subject) headers['OCI-Subject'] = manifest.subject.digest;
  res.writeHead(201, headers);
  res.end();
}

async function deleteManifest(ctx: RouteContext, name: string, reference: string, res: ServerResponse): Promise<void> {
  if (!reference.includes(':')) {
    if (!isValidTag(reference) || !(await ctx.storage.deleteTag(name, reference))) {
      throw new RegistryError('MANIFEST_UNKNOWN', `tag ${reference} is not known to repository ${name}`);
    }
    const tagSubject = signatureTagSubject(reference);
    if (tagSubject) ctx.enforcer?.invalidate(name, tagSubject);
    res.writeHead(202, { 'content-length': '0' });
    res.end();
    return;
  }
  // With its referrers, recursively, and out of their tag schema index; refused (409 DENIED) while
  // another index of the repository lists any of them.
  const digest = validDigest(reference);
  const result = await ctx.storage.deleteManifestCascade(name, digest);
  if (!result) throw new RegistryError('MANIFEST_UNKNOWN', `manifest ${reference} is not known to repository ${name}`);
  // Verdicts that relied on a deleted signature or a deleted covering index are stale.
  for (const d of result.affected) ctx.enforcer?.invalidate(name, d);
  res.writeHead(202, { 'content-length': '0' });
  res.end();
}

function parseRange(header: string, size: number): { start: number; end: number } | null {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  let start: number;
  let end: number;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) return null;
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start > end || start >= size) return null;
  return { start, end };
}

async function getBlob(
  ctx: RouteContext,
  name: string,
  digest: string,
  head: boolean,
  req: IncomingMessage,
  res: ServerResponse
): Promise<void> {
  validDigest(digest);
  const size = await ctx.storage.blobSize(name, digest);
  if (size === null) throw new RegistryError('BLOB_UNKNOWN', `blob ${digest} is not known to repository ${name}`);
  const base = {
    'Docker-Content-Digest': digest,
    'Accept-Ranges': 'bytes',
    'content-type': 'application/octet-stream',
    ETag: `"${digest}"`,
  };
  const rangeHeader = req.headers.range;
  if (rangeHeader) {
    const range = parseRange(rangeHeader, size);
    if (!range)
      throw new RegistryError('BLOB_UNKNOWN', `range ${rangeHeader} is not satisfiable for ${size} bytes`, 416, {
        'Content-Range': `bytes */${size}`,
      });
    res.writeHead(206, {
      ...base,
      'content-length': String(range.end - range.start + 1),
      'Content-Range': `bytes ${range.start}-${range.end}/${size}`,
    });
    if (head) return void res.end();
    await ctx.storage.sendBlob(digest, res, range);
    res.end();
    return;
  }
  // A small blob (an envelope, a config) goes out in one write; a large one streams.
  const small = !head && size <= SMALL_BLOB ? ctx.storage.readSmallBlob(digest, SMALL_BLOB) : null;
  res.writeHead(200, { ...base, 'content-length': String(size) });
  if (head) return void res.end();
  if (small && small.length === size) return void res.end(small);
  await ctx.storage.sendBlob(digest, res);
  res.end();
}

/** Blobs up to this size are answered from one read, without a file stream. */
const SMALL_BLOB = 64 * 1024;

async function deleteBlob(ctx: RouteContext, name: string, digest: string, res: ServerResponse): Promise<void> {
  validDigest(digest);
  // Refused (409 DENIED) while a manifest of the repository uses it as config or layer.
  if (!(await ctx.storage.unlinkBlobChecked(name, digest)))
    throw new RegistryError('BLOB_UNKNOWN', `blob ${digest} is not known to repository ${name}`);
  res.writeHead(202, { 'content-length': '0' });
  res.end();
}

function uploadHeaders(name: string, uuid: string, offset: number): Record<string, string> {
  return {
    Location: `/v2/${name}/blobs/uploads/${uuid}`,
    'Docker-Upload-UUID': uuid,
    Range: `0-${Math.max(0, offset - 1)}`,
    'content-length': '0',
  };
}

async function withUploadSlot<T>(ctx: RouteContext, fn: () => Promise<T>): Promise<T> {
  if (ctx.activeUploads.n >= ctx.limits.maxConcurrentUploads) {
    throw new RegistryError('TOOMANYREQUESTS', 'too many uploads in progress; retry later', 429, {
      'Retry-After': '1',
    });
  }
  ctx.activeUploads.n++;
  try {
    return await fn();
  } finally {
    ctx.activeUploads.n--;
  }
}

async function startUpload(
  ctx: RouteContext,
  name: string,
  url: URL,
  req: IncomingMessage,
  res: ServerResponse
): Promise<void> {
  const mount = url.searchParams.get('mount');
  const from = url.searchParams.get('from');
  if (mount !== null) {
    validDigest(mount);
    if (from && isValidRepositoryName(from) && (await ctx.storage.mountBlob(name, from, mount))) {
      req.resume();
      res.writeHead(201, {
        Location: `/v2/${name}/blobs/${mount}`,
        'Docker-Content-Digest': mount,
        'content-length': '0',
      });
      res.end();
      return;
    }
    // Not mountable: the spec says to answer with a new upload session instead.
  }
  const digest = url.searchParams.get('digest');
  if (digest !== null) {
    validDigest(digest);
    await withUploadSlot(ctx, () => ctx.storage.putBlob(name, digest, req, ctx.limits.maxBlobSize));
    res.writeHead(201, {
      Location: `/v2/${name}/blobs/${digest}`,
      'Docker-Content-Digest': digest,
      'content-length': '0',
    });
    res.end();
    return;
  }
  req.resume();
  const uuid = await ctx.storage.createUpload(name);
  res.writeHead(202, uploadHeaders(name, uuid, 0));
  res.end();
}

async function upload(
  ctx: RouteContext,
  name: string,
  uuid: string,
  method: string,
  url: URL,
  req: IncomingMessage,
  res: ServerResponse
): Promise<void> {
  const state = await ctx.storage.uploadState(uuid);
  if (!state || state.repo !== name)
    throw new RegistryError('BLOB_UPLOAD_UNKNOWN', `upload ${uuid.slice(0, 64)} is not known to repository ${name}`);
  switch (method) {
    case 'GET':
      res.writeHead(204, uploadHeaders(name, uuid, state.offset));
      res.end();
      return;
    case 'DELETE':
      await ctx.storage.cancelUpload(uuid);
      res.writeHead(204, { 'content-length': '0' });
      res.end();
      return;
    case 'PATCH': {
      checkContentRange(req, name, uuid, state.offset);
      const offset = await withUploadSlot(ctx, () => ctx.storage.appendUpload(uuid, req, ctx.limits.maxBlobSize));
      res.writeHead(202, uploadHeaders(name, uuid, offset));
      res.end();
      return;
    }
    case 'PUT': {
      const digest = url.searchParams.get('digest');
      if (digest === null) {
        req.resume();
        throw new RegistryError('DIGEST_INVALID', 'PUT completing an upload needs ?digest=');
      }
      validDigest(digest);
      // A final chunk out of order is refused as a PATCH would be, not appended and judged by digest.
      checkContentRange(req, name, uuid, state.offset);
      await withUploadSlot(ctx, async () => {
        await ctx.storage.appendUpload(uuid, req, ctx.limits.maxBlobSize);
        await ctx.storage.finishUpload(uuid, name, digest);
      });
      res.writeHead(201, {
        Location: `/v2/${name}/blobs/${digest}`,
        'Docker-Content-Digest': digest,
        'content-length': '0',
      });
      res.end();
      return;
    }
    default:
      throw notAllowed(method);
  }
}

/** A chunk's Content-Range (when given) must continue the upload exactly where it is: else 416. */
function checkContentRange(req: IncomingMessage, name: string, uuid: string, offset: number): void {
  const cr = req.headers['content-range'];
  if (cr === undefined) return;
  const m = /^(?:bytes[ =])?(\d+)-(\d+)$/.exec(cr.trim());
  const len = req.headers['content-length'];
  if (
    !m ||
    Number(m[1]) !== offset ||
    Number(m[2]) < Number(m[1]) ||
    (len !== undefined && Number(m[2]) - Number(m[1]) + 1 !== Number(len))
  ) {
    req.resume();
    throw new RegistryError(
      'BLOB_UPLOAD_INVALID',
      `Content-Range ${cr} does not continue the upload at offset ${offset}`,
      416,
      uploadHeaders(name, uuid, offset)
    );
  }
}

async function referrers(
  ctx: RouteContext,
  name: string,
  digest: string,
  url: URL,
  res: ServerResponse
): Promise<void> {
  validDigest(digest);
  let list = await ctx.storage.referrers(name, digest);
  const headers: Record<string, string> = { 'content-type': MediaType.ImageIndex };
  const artifactType = url.searchParams.get('artifactType');
  if (artifactType !== null) {
    list = list.filter((d) => d.artifactType === artifactType);
    headers['OCI-Filters-Applied'] = 'artifactType';
  }
  const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ImageIndex, manifests: list }));
  res.writeHead(200, { ...headers, 'content-length': String(body.length) });
  res.end(body);
}

export { OciError };
