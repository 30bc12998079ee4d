import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, interceptors, request, type Dispatcher } from 'undici';
import * as z from 'zod';
import { parseDigest } from '../../oci/index.ts';
import { MAX_CONFIG_FILE_SIZE, readBodyBounded, readFileBounded, SignetError } from '../../util/index.ts';

/** registries.d: where simple signatures of a registry namespace live (containers-registries.d(5)). */
export interface RegistriesD {
  docker: Map<string, { lookaside?: string; lookasideStaging?: string }>;
  defaultDocker?: { lookaside?: string; lookasideStaging?: string };
}

// One namespace of a registries.d document, as containers/image defines it (registries_d.go);
// `sigstore` / `sigstore-staging` are its deprecated aliases of the lookaside fields.
const namespaceSchema = z.strictObject({
  lookaside: z.string().optional(),
  'lookaside-staging': z.string().optional(),
  sigstore: z.string().optional(),
  'sigstore-staging': z.string().optional(),
  'use-sigstore-attachments': z.boolean().optional(),
});
const registriesDocumentSchema = z.strictObject({
  'default-docker': namespaceSchema.nullish(),
  docker: z.record(z.string(), namespaceSchema.nullish()).nullish(),
});
type Namespace = z.infer<typeof namespaceSchema>;

function namespace(v: Namespace | null | undefined): { lookaside?: string; lookasideStaging?: string } {
  const lookaside = v?.lookaside ?? v?.sigstore;
  const staging = v?.['lookaside-staging'] ?? v?.['sigstore-staging'];
  return { ...(lookaside ? { lookaside } : {}), ...(staging ? { lookasideStaging: staging } : {}) };
}

/** `docker["a b"].lookaside` from a zod issue path. */
function locate(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else if (typeof p === 'string' && /^[A-Za-z_][A-Za-z0-9_-]*$/.test(p)) out += out ? `.${p}` : p;
    else out += `[${JSON.stringify(String(p))}]`;
  }
  return out || 'the top level';
}

function configInvalid(message: string): never {
  throw new SignetError('CONFIG_INVALID', message);
}

/**
 * Loads registries.d (containers-registries.d(5)): every `*.yaml` / `*.yml` of `dir` in name
 * order. A field the format does not define, or a value of the wrong type, is refused with
 * CONFIG_INVALID (usage) naming the file, the field and where it is.
 */
export async function loadRegistriesD(dir: string): Promise<RegistriesD> {
  const out: RegistriesD = { docker: new Map() };
  const files = (await readdir(dir).catch(() => [])).filter((f) => /\.ya?ml$/.test(f)).sort();
  for (const f of files) {
    const file = join(dir, f);
    let raw: unknown;
    try {
      // yaml is loaded only when a registries.d is read (most commands never do).
      const { parse: parseYaml } = await import('yaml');
      raw = parseYaml((await readFileBounded(file, MAX_CONFIG_FILE_SIZE)).toString('utf8')) ?? {};
    } catch (err) {
      throw new SignetError('CONFIG_INVALID', `${file}: ${(err as Error).message}`);
    }
    if (typeof raw !== 'object' || Array.isArray(raw)) {
      configInvalid(`registries.d ${file}: the document must be a mapping`);
    }
    const r = registriesDocumentSchema.safeParse(raw);
    if (!r.success) {
      const issue = r.error.issues[0]!;
      const at = locate(issue.path);
      if (issue.code === 'unrecognized_keys') {
        const keys = issue.keys.map((k) => JSON.stringify(k)).join(', ');
        configInvalid(`registries.d ${file}: unknown field${issue.keys.length > 1 ? 's' : ''} ${keys} in ${at}`);
      }
      configInvalid(`registries.d ${file}: ${at}: ${issue.message}`);
    }
    for (const [scope, v] of Object.entries(r.data.docker ?? {})) {
      if (out.docker.has(scope))
        throw new SignetError('CONFIG_INVALID', `registries.d: scope ${scope} is configured twice`);
      out.docker.set(scope, namespace(v));
    }
    const d = r.data['default-docker'];
    if (d) out.defaultDocker = namespace(d);
  }
  return out;
}

/** The most specific scope for `host/repo` (host/ns/repo, host/ns, host), else default-docker. */
export function lookasideFor(
  config: RegistriesD,
  registry: string,
  repository: string,
  write = false
): string | undefined {
  const parts = `${registry}/${repository}`.split('/');
  for (let n = parts.length; n >= 1; n--) {
    const e = config.docker.get(parts.slice(0, n).join('/'));
    if (e) return (write ? e.lookasideStaging : undefined) ?? e.lookaside;
  }
  return (write ? config.defaultDocker?.lookasideStaging : undefined) ?? config.defaultDocker?.lookaside;
}

/** `<base>/<repo>@<alg>=<hex>/signature-<n>` */
export function lookasideUrl(base: string, repository: string, digest: string, n: number): string {
  const { algorithm, hex } = parseDigest(digest);
  return `${base.replace(/\/+$/, '')}/${repository}@${algorithm}=${hex}/signature-${n}`;
}

/** Largest simple-signing signature read from a lookaside (each `signature-N`). */
export const MAX_LOOKASIDE_SIGNATURE_SIZE = 4 * 1024 * 1024;
const MAX_LOOKASIDE_REDIRECTS = 5;

// Lookaside servers are plain web servers: follow a few redirects (as fetch did), never forever.
let lookasideDispatcher: Dispatcher | undefined;
function dispatcher(): Dispatcher {
  if (!lookasideDispatcher) {
    const redirect = interceptors.redirect({ maxRedirections: MAX_LOOKASIDE_REDIRECTS });
    // An Agent of this undici, not the global dispatcher: on Node 22 that is Node's own (older)
    // undici, which this redirect interceptor cannot drive ("invalid onError method").
    lookasideDispatcher = new Agent().compose(redirect);
  }
  return lookasideDispatcher;
}

function unavailable(url: string, message: string, cause?: unknown): SignetError {
  const options = { kind: 'inconclusive' as const, ...(cause ? { cause } : {}) };
  return new SignetError('LOOKASIDE_UNAVAILABLE', `${url}: ${message}`, options);
}

/** One signature file, or undefined when it does not exist; never more than the bound is read. */
async function readOne(url: string, maxBytes: number): Promise<Uint8Array | undefined> {
  const what = `lookaside signature ${url}`;
  if (url.startsWith('file://')) {
    try {
      return await readFileBounded(fileURLToPath(url), maxBytes, what);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      if (err instanceof SignetError) throw err;
      throw unavailable(url, (err as Error).message, err);
    }
  }
  let res: Dispatcher.ResponseData;
  try {
    res = await request(url, { method: 'GET', dispatcher: dispatcher() });
  } catch (err) {
    throw unavailable(url, (err as Error).message, err);
  }
  if (res.statusCode === 404) {
    await res.body.dump().catch(() => {});
    return undefined;
  }
  if (res.statusCode !== 200) {
    await res.body.dump().catch(() => {});
    throw unavailable(url, `HTTP ${res.statusCode}`);
  }
  const length = res.headers['content-length'];
  return readBodyBounded(res.body, maxBytes, { what, contentLength: Array.isArray(length) ? length[0] : length });
}

/**
 * Reads signature-1, signature-2, … until the first missing one (file:// or http(s)://): at most
 * `max` signatures of at most `maxBytes` each (SIZE_EXCEEDED past it, however the bytes arrive).
 */
export async function readLookaside(
  base: string,
  repository: string,
  digest: string,
  max = 64,
  maxBytes = MAX_LOOKASIDE_SIGNATURE_SIZE
): Promise<Uint8Array[]> {
  if (!base.startsWith('file://') && !/^https?:\/\//.test(base)) {
    throw new SignetError('CONFIG_INVALID', `lookaside ${base} is neither file:// nor http(s)://`);
  }
  const out: Uint8Array[] = [];
  for (let n = 1; n <= max; n++) {
    const data = await readOne(lookasideUrl(base, repository, digest, n), maxBytes);
    if (!data) break;
    out.push(data);
  }
  return out;
}
