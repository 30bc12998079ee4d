import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import { parseRegistryReference, type RegistryReference } from '../oci/index.ts';
import { SignetError } from '../util/index.ts';

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
  | { type: 'sigstoreSigned'; keys: Uint8Array[]; signedIdentity: SignedIdentity };

export interface ContainersPolicy {
  default: Requirement[];
  docker: Map<string, Requirement[]>;
}

function invalid(message: string): never {
  throw new SignetError('CONTAINERS_POLICY_INVALID', `containers policy: ${message}`, { kind: 'failed' });
}

async function keysOf(r: Record<string, unknown>, where: string, baseDir: string): Promise<Uint8Array[]> {
  const paths = [...(typeof r.keyPath === 'string' ? [r.keyPath] : []), ...(Array.isArray(r.keyPaths) ? (r.keyPaths as string[]) : [])];
  const out: Uint8Array[] = [];
  for (const p of paths) out.push(await readFile(isAbsolute(p) ? p : join(baseDir, p)).catch((e: Error) => invalid(`${where}: cannot read key ${p}: ${e.message}`)));
  if (typeof r.keyData === 'string') out.push(Buffer.from(r.keyData, 'base64'));
  if (Array.isArray(r.keyDatas)) for (const k of r.keyDatas as string[]) out.push(Buffer.from(k, 'base64'));
  if (!out.length) invalid(`${where}: needs keyPath, keyPaths or keyData`);
  return out;
}

function parseIdentity(v: unknown, where: string): SignedIdentity {
  if (v === undefined) return { type: 'matchRepoDigestOrExact' };
  const o = v as Record<string, unknown>;
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
      if (typeof o.prefix !== 'string' || typeof o.signedPrefix !== 'string') invalid(`${where}: remapIdentity needs prefix and signedPrefix`);
      for (const v of [o.prefix, o.signedPrefix]) if (!v || v.endsWith('/') || /[:@]$/.test(v)) invalid(`${where}: remapIdentity prefix ${JSON.stringify(v)} is not valid (host[:port] or a repository, without a trailing '/')`);
      return { type: 'remapIdentity', prefix: o.prefix, signedPrefix: o.signedPrefix };
    default:
      return invalid(`${where}: unknown signedIdentity type ${JSON.stringify(o?.type)}`);
  }
}

async function parseRequirements(list: unknown, where: string, baseDir: string): Promise<Requirement[]> {
  if (!Array.isArray(list) || list.length === 0) invalid(`${where} must be a non-empty list of requirements`);
  const out: Requirement[] = [];
  for (const [i, r] of (list as Array<Record<string, unknown>>).entries()) {
    const w = `${where}[${i}]`;
    switch (r?.type) {
      case 'insecureAcceptAnything':
      case 'reject':
        out.push({ type: r.type });
        break;
      case 'signedBy':
        if (r.keyType !== 'GPGKeys') invalid(`${w}: keyType ${JSON.stringify(r.keyType)} is not supported (GPGKeys)`);
        out.push({ type: 'signedBy', keys: await keysOf(r, w, baseDir), signedIdentity: parseIdentity(r.signedIdentity, w) });
        break;
      case 'sigstoreSigned':
        out.push({ type: 'sigstoreSigned', keys: await keysOf(r, w, baseDir), signedIdentity: parseIdentity(r.signedIdentity, w) });
        break;
      default:
        invalid(`${w}: unknown requirement type ${JSON.stringify(r?.type)} (insecureAcceptAnything, reject, signedBy, sigstoreSigned)`);
    }
  }
  return out;
}

export async function loadContainersPolicy(path: string): Promise<ContainersPolicy> {
  let j: { default?: unknown; transports?: Record<string, Record<string, unknown>> };
  try {
    j = JSON.parse(await readFile(path, 'utf8')) as typeof j;
  } catch (err) {
    invalid(`${path}: ${(err as Error).message}`);
  }
  const baseDir = dirname(path);
  const docker = new Map<string, Requirement[]>();
  for (const [scope, reqs] of Object.entries(j.transports?.docker ?? {})) docker.set(scope, await parseRequirements(reqs, `transports.docker["${scope}"]`, baseDir));
  return { default: await parseRequirements(j.default, 'default', baseDir), docker };
}

/** The requirements for a reference: the most specific docker scope, else `default`. */
export function requirementsFor(policy: ContainersPolicy, ref: RegistryReference): { scope: string; requirements: Requirement[] } {
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
