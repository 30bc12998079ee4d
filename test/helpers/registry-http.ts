import { createHash } from 'node:crypto';
import { Agent, request } from 'undici';

/** Raw distribution-spec calls over HTTP for the server tests (no client-side normalising). */

export const IMAGE_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const IMAGE_INDEX = 'application/vnd.oci.image.index.v1+json';
export const EMPTY_CONFIG = {
  mediaType: 'application/vnd.oci.empty.v1+json',
  digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
  size: 2,
};

export const sha = (b: Uint8Array | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export interface Desc {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** The first distribution-spec error of the body, when there is one. */
  error?: { code: string; message: string };
}

let agent = new Agent();

/**
 * Closes the keep-alive connections of `call` (a fresh pool serves the next calls). Call before
 * closing a server: its graceful close would otherwise wait for a connection whose last response
 * the client has read but the server has not yet marked finished.
 */
export async function closeConnections(): Promise<void> {
  const old = agent;
  agent = new Agent();
  await old.close();
}

/** One request to `http://host` + path; never throws on a status. */
export async function call(
  host: string,
  method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE',
  path: string,
  options: { body?: Uint8Array | string; headers?: Record<string, string> } = {}
): Promise<Answer> {
  const res = await request(`http://${host}${path}`, {
    dispatcher: agent,
    method,
    headers: options.headers ?? {},
    ...(options.body !== undefined ? { body: options.body } : {}),
  });
  const body = Buffer.from(await res.body.arrayBuffer());
  const out: Answer = { status: res.statusCode, headers: res.headers, body };
  if (res.statusCode >= 400 && body.length) {
    try {
      const e = (JSON.parse(body.toString()) as { errors?: Array<{ code: string; message: string }> }).errors?.[0];
      if (e) out.error = e;
    } catch {
      // not JSON
    }
  }
  return out;
}

/** Monolithic blob upload (POST ?digest=); returns the blob's descriptor. */
export async function pushBlob(host: string, repo: string, bytes: Buffer, mediaType = 'application/octet-stream') {
  const digest = sha(bytes);
  const r = await call(host, 'POST', `/v2/${repo}/blobs/uploads/?digest=${digest}`, { body: bytes });
  if (r.status !== 201) throw new Error(`POST blob ${repo}: ${r.status} ${r.body.toString()}`);
  return { mediaType, digest, size: bytes.length } satisfies Desc;
}

/** PUT of a manifest (object → compact JSON) under a tag or its digest; the answer and the manifest's descriptor. */
export async function putManifest(
  host: string,
  repo: string,
  manifest: object,
  reference?: string
): Promise<{ answer: Answer; desc: Desc; bytes: Buffer }> {
  const bytes = Buffer.from(JSON.stringify(manifest));
  const mediaType = (manifest as { mediaType: string }).mediaType;
  const digest = sha(bytes);
  const answer = await call(host, 'PUT', `/v2/${repo}/manifests/${reference ?? digest}`, {
    body: bytes,
    headers: { 'content-type': mediaType },
  });
  const desc: Desc = { mediaType, digest, size: bytes.length };
  const at = (manifest as { artifactType?: string }).artifactType;
  if (at) desc.artifactType = at;
  return { answer, desc, bytes };
}

/** Same, and throws unless the registry answered 201. */
export async function mustPutManifest(host: string, repo: string, manifest: object, reference?: string) {
  const r = await putManifest(host, repo, manifest, reference);
  if (r.answer.status !== 201) throw new Error(`PUT manifest ${repo}: ${r.answer.status} ${r.answer.body.toString()}`);
  return r;
}

export function imageManifest(config: Desc, layers: Desc[], extra: Record<string, unknown> = {}): object {
  return { schemaVersion: 2, mediaType: IMAGE_MANIFEST, config, layers, ...extra };
}

export function indexManifest(children: Desc[], extra: Record<string, unknown> = {}): object {
  return { schemaVersion: 2, mediaType: IMAGE_INDEX, manifests: children, ...extra };
}

/** A signature-like referrer of `subject` (an artifact manifest with the empty config). */
export async function pushReferrer(host: string, repo: string, subject: Desc, note: string) {
  const layer = await pushBlob(host, repo, Buffer.from(`signature ${note} of ${subject.digest}`));
  return mustPutManifest(
    host,
    repo,
    imageManifest(EMPTY_CONFIG, [layer], {
      artifactType: 'application/vnd.test.signature',
      subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    })
  );
}

/** The referrers tag schema tag of a digest (`sha256-<hex>`). */
export const schemaTag = (digest: string): string => digest.replace(':', '-');
