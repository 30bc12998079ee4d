import { dirname, isAbsolute, join } from 'node:path';
import * as z from 'zod';
import { parseRegistryReference, type RegistryReference } from '../oci/index.ts';
import { readFileBounded, SignetError } from '../util/index.ts';

/**
 * containers-policy.json(5) as containers/image enforces it: `default`, `transports.docker`
 * scopes (most specific wins), requirements that must ALL pass, and `signedIdentity` rules that
 * bind the signed name to the reference being verified.
 */
export type SignedIdentity =
  | { type: 'matchRepoDigestOrExact' }
  | { type: 'matchRepository' }
  | { type: 'matchExact' }
  | { type: 'exactReference'; dockerReference: string }
  | { type: 'exactRepository'; dockerRepository: string }
  | { type: 'remapIdentity'; prefix: string; signedPrefix: string };

export type Requirement =
  | { type: 'insecureAcceptAnything' }
  | { type: 'reject' }
  | { type: 'signedBy'; keys: Uint8Array[]; signedIdentity: SignedIdentity }
  | { type: 'sigstoreSigned'; keys: Uint8Array[]; signedIdentity: SignedIdentity; keyless?: SigstoreKeyless };

/**
 * `sigstoreSigned` with `fulcio` (podman's keyless form): certificates issued by one of `ca` (PEM)
 * to `subjectEmail` by `oidcIssuer`, logged in a Rekor whose public key is one of `rekorKeys`.
 */
export interface SigstoreKeyless {
  ca: Uint8Array[];
  oidcIssuer: string;
  subjectEmail: string;
  rekorKeys: Uint8Array[];
}

export interface ContainersPolicy {
  default: Requirement[];
  docker: Map<string, Requirement[]>;
}

function invalid(message: string): never {
  throw new SignetError('CONTAINERS_POLICY_INVALID', `containers policy: ${message}`);
}

/** The largest policy.json read (docs/security.md): refused before it is parsed. */
export const MAX_CONTAINERS_POLICY_SIZE = 4 * 1024 * 1024;

/** The largest key, CA or Rekor key file a policy may name (docs/security.md): a PEM or GPG keyring is kilobytes. */
export const MAX_CONTAINERS_POLICY_KEY_FILE = 1024 * 1024;

/**
 * A file the policy names (`keyPath`, `keyPaths`, `fulcio.caPath`, `rekorPublicKeyPath(s)`), read
 * with the bound: SIZE_EXCEEDED naming the file past it (a FIFO or /dev/zero ends there too),
 * CONTAINERS_POLICY_INVALID when it cannot be read.
 */
async function readPolicyFile(p: string, what: string, where: string, baseDir: string): Promise<Uint8Array> {
  const file = isAbsolute(p) ? p : join(baseDir, p);
  try {
    return await readFileBounded(file, MAX_CONTAINERS_POLICY_KEY_FILE, `containers policy: ${where}: ${what} ${file}`);
  } catch (err) {
    if (err instanceof SignetError) throw err;
    invalid(`${where}: cannot read ${what} ${p}: ${(err as Error).message}`);
  }
}

// The document's shape, field for field as containers/image defines it (policy_types.go): an unknown
// or misspelled field is refused (c/image refuses it too) instead of being silently ignored, which
// could drop a constraint the author meant to impose.
const str = z.string();
const strs = z.array(z.string());
const identitySchemas: Record<string, z.ZodType> = {
  matchRepoDigestOrExact: z.strictObject({ type: str }),
  matchRepository: z.strictObject({ type: str }),
  matchExact: z.strictObject({ type: str }),
  exactReference: z.strictObject({ type: str, dockerReference: str.optional() }),
  exactRepository: z.strictObject({ type: str, dockerRepository: str.optional() }),
  remapIdentity: z.strictObject({ type: str, prefix: str.optional(), signedPrefix: str.optional() }),
};
const signedIdentityField = z.unknown().optional();
const requirementSchemas: Record<string, z.ZodType> = {
  insecureAcceptAnything: z.strictObject({ type: str }),
  reject: z.strictObject({ type: str }),
  signedBy: z.strictObject({
    type: str,
    keyType: str.optional(),
    keyPath: str.optional(),
    keyPaths: strs.optional(),
    keyData: str.optional(),
    signedIdentity: signedIdentityField,
  }),
  sigstoreSigned: z.strictObject({
    type: str,
    keyPath: str.optional(),
    keyPaths: strs.optional(),
    keyData: str.optional(),
    keyDatas: strs.optional(),
    fulcio: z.strictObject({ caPath: str, caData: str, oidcIssuer: str, subjectEmail: str }).partial().optional(),
    pki: z
      .strictObject({
        caRootsPath: str,
        caRootsData: str,
        caIntermediatesPath: str,
        caIntermediatesData: str,
        subjectEmail: str,
        subjectHostname: str,
      })
      .partial()
      .optional(),
    rekorPublicKeyPath: str.optional(),
    rekorPublicKeyPaths: strs.optional(),
    rekorPublicKeyData: str.optional(),
    rekorPublicKeyDatas: strs.optional(),
    signedIdentity: signedIdentityField,
  }),
};
const documentSchema = z.strictObject({
  default: z.unknown().optional(),
  transports: z.record(z.string(), z.record(z.string(), z.unknown())).optional(),
});

/** `where` plus a zod issue path, written the way the document reads: `a.b["c d"][0]`. */
function locate(where: string, path: ReadonlyArray<PropertyKey>): string {
  let out = where;
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else if (typeof p === 'string' && /^[A-Za-z_][A-Za-z0-9_-]*$/.test(p)) out += out ? `.${p}` : p;
    else out += `[${JSON.stringify(String(p))}]`;
  }
  return out || '(top level)';
}

/** Checks `value` against `schema`; an unknown field or a wrong type is a usage error naming the field and where. */
function checkShape(schema: z.ZodType, value: unknown, where: string): void {
  const r = schema.safeParse(value);
  if (r.success) return;
  const issue = r.error.issues[0]!;
  const at = locate(where, issue.path);
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((k) => JSON.stringify(k)).join(', ');
    const fields = issue.keys.length > 1 ? 'fields' : 'field';
    throw new SignetError('POLICY_INVALID', `unknown ${fields} ${keys} in ${at}`);
  }
  throw new SignetError('POLICY_INVALID', `${at}: ${issue.message}`);
}

/** Files or base64 data, as containers/image names them (`…Path`, `…Paths`, `…Data`, `…Datas`). */
async function filesOrData(
  paths: unknown[],
  datas: unknown[],
  what: string,
  where: string,
  baseDir: string
): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (const p of paths.filter((x): x is string => typeof x === 'string'))
    out.push(await readPolicyFile(p, what, where, baseDir));
  for (const d of datas.filter((x): x is string => typeof x === 'string')) out.push(Buffer.from(d, 'base64'));
  return out;
}

/** `fulcio` + `rekorPublicKey…`: the keyless form (a key form beside it is refused, as containers/image does). */
async function keylessOf(r: Record<string, unknown>, where: string, baseDir: string): Promise<SigstoreKeyless> {
  const f = r.fulcio as { caPath?: string; caData?: string; oidcIssuer?: string; subjectEmail?: string };
  if (r.keyPath || r.keyPaths || r.keyData || r.keyDatas) invalid(`${where}: give fulcio or a key, not both`);
  if (!f.oidcIssuer || !f.subjectEmail) invalid(`${where}.fulcio needs oidcIssuer and subjectEmail`);
  const ca = await filesOrData([f.caPath], [f.caData], 'Fulcio CA', `${where}.fulcio`, baseDir);
  if (ca.length !== 1) invalid(`${where}.fulcio needs exactly one of caPath and caData`);
  const rekorKeys = await filesOrData(
    [r.rekorPublicKeyPath, ...((r.rekorPublicKeyPaths as unknown[] | undefined) ?? [])],
    [r.rekorPublicKeyData, ...((r.rekorPublicKeyDatas as unknown[] | undefined) ?? [])],
    'Rekor public key',
    where,
    baseDir
  );
  if (!rekorKeys.length) invalid(`${where}: fulcio needs rekorPublicKeyPath(s) or rekorPublicKeyData(s)`);
  return { ca, oidcIssuer: f.oidcIssuer!, subjectEmail: f.subjectEmail!, rekorKeys };
}

async function keysOf(r: Record<string, unknown>, where: string, baseDir: string): Promise<Uint8Array[]> {
  const paths = [
    ...(typeof r.keyPath === 'string' ? [r.keyPath] : []),
    ...(Array.isArray(r.keyPaths) ? (r.keyPaths as string[]) : []),
  ];
  const out: Uint8Array[] = [];
  for (const p of paths) out.push(await readPolicyFile(p, 'key', where, baseDir));
  if (typeof r.keyData === 'string') out.push(Buffer.from(r.keyData, 'base64'));
  if (Array.isArray(r.keyDatas)) for (const k of r.keyDatas as string[]) out.push(Buffer.from(k, 'base64'));
  if (!out.length) invalid(`${where}: needs keyPath, keyPaths or keyData`);
  return out;
}

function parseIdentity(v: unknown, where: string): SignedIdentity {
  if (v === undefined) return { type: 'matchRepoDigestOrExact' };
  const o = v as Record<string, unknown>;
  const w = `${where}.signedIdentity`;
  const schema = typeof o?.type === 'string' && Object.hasOwn(identitySchemas, o.type) ? identitySchemas[o.type] : null;
  if (schema) checkShape(schema, o, w);
  switch (o?.type) {
    case 'matchRepoDigestOrExact':
    case 'matchRepository':
    case 'matchExact':
      return { type: o.type };
    case 'exactReference':
      if (typeof o.dockerReference !== 'string') invalid(`${where}: exactReference needs dockerReference`);
      return { type: 'exactReference', dockerReference: o.dockerReference };
    case 'exactRepository':
      if (typeof o.dockerRepository !== 'string') invalid(`${where}: exactRepository needs dockerRepository`);
      return { type: 'exactRepository', dockerRepository: o.dockerRepository };
    case 'remapIdentity':
      if (typeof o.prefix !== 'string' || typeof o.signedPrefix !== 'string')
        invalid(`${where}: remapIdentity needs prefix and signedPrefix`);
      for (const v of [o.prefix, o.signedPrefix])
        if (!v || v.endsWith('/') || /[:@]$/.test(v))
          invalid(
            `${where}: remapIdentity prefix ${JSON.stringify(v)} is not valid (host[:port] or a repository, without a trailing '/')`
          );
      return { type: 'remapIdentity', prefix: o.prefix, signedPrefix: o.signedPrefix };
    default:
      return invalid(`${where}: unknown signedIdentity type ${shownValue(o?.type)}`);
  }
}

/** A value in a message: a string as JSON (cut short), anything else by its type (a hostile value may nest too deep to print). */
function shownValue(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v.slice(0, 200)) : v === undefined ? 'missing' : `of type ${typeof v}`;
}

/** Checks one requirement's type and fields (no key files read): what every transport's list must pass. */
function checkRequirement(r: Record<string, unknown> | undefined, w: string): void {
  const type = r?.type;
  const schema = typeof type === 'string' && Object.hasOwn(requirementSchemas, type) ? requirementSchemas[type] : null;
  if (!schema) {
    const known = 'insecureAcceptAnything, reject, signedBy, sigstoreSigned';
    invalid(`${w}: unknown requirement type ${shownValue(type)} (${known})`);
  }
  checkShape(schema, r, w);
}

function requirementList(list: unknown, where: string): Array<Record<string, unknown>> {
  if (!Array.isArray(list) || list.length === 0) invalid(`${where} must be a non-empty list of requirements`);
  const out = list as Array<Record<string, unknown>>;
  for (const [i, r] of out.entries()) checkRequirement(r, `${where}[${i}]`);
  return out;
}

async function parseRequirements(list: unknown, where: string, baseDir: string): Promise<Requirement[]> {
  const out: Requirement[] = [];
  for (const [i, r] of requirementList(list, where).entries()) {
    const w = `${where}[${i}]`;
    switch (r.type) {
      case 'insecureAcceptAnything':
      case 'reject':
        out.push({ type: r.type });
        break;
      case 'signedBy':
        if (r.keyType !== 'GPGKeys') invalid(`${w}: keyType ${shownValue(r.keyType)} is not supported (GPGKeys)`);
        out.push({
          type: 'signedBy',
          keys: await keysOf(r, w, baseDir),
          signedIdentity: parseIdentity(r.signedIdentity, w),
        });
        break;
      case 'sigstoreSigned':
        out.push(
          r.fulcio
            ? {
                type: 'sigstoreSigned',
                keys: [],
                keyless: await keylessOf(r, w, baseDir),
                signedIdentity: parseIdentity(r.signedIdentity, w),
              }
            : {
                type: 'sigstoreSigned',
                keys: await keysOf(r, w, baseDir),
                signedIdentity: parseIdentity(r.signedIdentity, w),
              }
        );
        break;
    }
  }
  return out;
}

/**
 * Loads containers-policy.json(5). Unknown or mistyped fields anywhere (the top level, a
 * transport's scopes, a requirement, a signedIdentity) are refused with POLICY_INVALID (usage),
 * naming the field and where it is; requirements of transports other than docker are checked the
 * same way but not otherwise used.
 */
export async function loadContainersPolicy(path: string): Promise<ContainersPolicy> {
  let j: unknown;
  try {
    const text = await readFileBounded(path, MAX_CONTAINERS_POLICY_SIZE, `containers policy ${path}`);
    j = JSON.parse(text.toString('utf8'));
  } catch (err) {
    if (err instanceof SignetError) throw err;
    invalid(`${path}: ${(err as Error).message}`);
  }
  try {
    if (typeof j !== 'object' || j === null || Array.isArray(j)) invalid(`${path}: the document must be a JSON object`);
    checkShape(documentSchema, j, '');
    const doc = j as z.infer<typeof documentSchema>;
    const baseDir = dirname(path);
    for (const [transport, scopes] of Object.entries(doc.transports ?? {})) {
      if (transport === 'docker') continue;
      for (const [scope, reqs] of Object.entries(scopes)) {
        requirementList(reqs, `transports.${transport}[${JSON.stringify(scope)}]`);
      }
    }
    const docker = new Map<string, Requirement[]>();
    for (const [scope, reqs] of Object.entries(doc.transports?.docker ?? {})) {
      docker.set(scope, await parseRequirements(reqs, `transports.docker["${scope}"]`, baseDir));
    }
    return { default: await parseRequirements(doc.default, 'default', baseDir), docker };
  } catch (err) {
    // Shape errors name the field and its place; add the file.
    if (err instanceof SignetError && err.code === 'POLICY_INVALID') {
      throw new SignetError(err.code, `containers policy ${path}: ${err.message}`, { cause: err });
    }
    throw err;
  }
}

/** The requirements for a reference: the most specific docker scope, else `default`. */
export function requirementsFor(
  policy: ContainersPolicy,
  ref: RegistryReference
): { scope: string; requirements: Requirement[] } {
  const repo = `${ref.registry}/${ref.repository}`;
  const candidates: string[] = [];
  if (ref.digest) candidates.push(`${repo}@${ref.digest}`);
  if (ref.tag) candidates.push(`${repo}:${ref.tag}`);
  const parts = repo.split('/');
  for (let n = parts.length; n >= 1; n--) candidates.push(parts.slice(0, n).join('/'));
  const host = ref.registry.replace(/:\d+$/, '');
  const labels = host.split('.');
  for (let i = 1; i < labels.length; i++) candidates.push(`*.${labels.slice(i).join('.')}`);
  for (const c of candidates) {
    const r = policy.docker.get(c);
    if (r) return { scope: c, requirements: r };
  }
  return { scope: 'default', requirements: policy.default };
}

/** Whether a signature claiming `signedRef` may stand for `ref` under `identity`. */
export function identityMatches(identity: SignedIdentity, ref: RegistryReference, signedRef: string): boolean {
  let signed: RegistryReference;
  try {
    signed = parseRegistryReference(signedRef);
  } catch {
    return false;
  }
  const repoOf = (r: RegistryReference): string => `${r.registry}/${r.repository}`;
  const exact = (r: RegistryReference): string => `${repoOf(r)}${r.digest ? `@${r.digest}` : r.tag ? `:${r.tag}` : ''}`;
  switch (identity.type) {
    case 'matchExact':
      return Boolean(ref.tag || ref.digest) && exact(ref) === exact(signed) && !(ref.tag && ref.digest);
    case 'matchRepoDigestOrExact':
      if (ref.digest && !ref.tag) return repoOf(ref) === repoOf(signed);
      return Boolean(ref.tag) && exact({ ...ref, digest: undefined } as RegistryReference) === exact(signed);
    case 'matchRepository':
      return repoOf(ref) === repoOf(signed);
    case 'exactReference':
      return exact(signed) === identity.dockerReference || signedRef === identity.dockerReference;
    case 'exactRepository':
      return repoOf(signed) === identity.dockerRepository;
    case 'remapIdentity': {
      // The prefix matches whole name components: followed by '/', ':', '@' or nothing.
      const full = exact(ref);
      const p = identity.prefix;
      const prefixed = full === p || (full.startsWith(p) && ['/', ':', '@'].includes(full[p.length] ?? ''));
      if (!prefixed) return identityMatches({ type: 'matchRepoDigestOrExact' }, ref, signedRef);
      const remapped = parseRegistryReference(identity.signedPrefix + full.slice(identity.prefix.length));
      return identityMatches({ type: 'matchRepoDigestOrExact' }, remapped, signedRef);
    }
  }
}
