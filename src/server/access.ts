import type { IncomingMessage } from 'node:http';
import { isImageIndex, isValidRepositoryName, type Manifest } from '../oci/index.ts';
import { classifyManifest } from './enforcement/classify.ts';
import type { Access, Authorizer } from './auth/types.ts';
import { RegistryError } from './errors.ts';
import type { Route } from './routes.ts';

/*
 * What each /v2/ request needs of the authorizer, shared by the registry and pull-through mode.
 */

export function accessFor(route: Route, method: string, url: URL): Access[] {
  const read = method === 'GET' || method === 'HEAD';
  switch (route.kind) {
    case 'base':
      return [];
    case 'catalog':
      return [{ type: 'registry', name: 'catalog', actions: ['*'] }];
    case 'uploads': {
      const out: Access[] = [{ type: 'repository', name: route.name, actions: ['pull', 'push'] }];
      const from = url.searchParams.get('from');
      if (url.searchParams.has('mount') && from && isValidRepositoryName(from))
        out.push({ type: 'repository', name: from, actions: ['pull'] });
      return out;
    }
    default:
      return [
        {
          type: 'repository',
          name: route.name,
          actions: read ? ['pull'] : method === 'DELETE' ? ['delete'] : ['pull', 'push'],
        },
      ];
  }
}

/** Writes a signer may make: manifests (checked in putManifest) and the blob uploads they need. */
export function signerMayTry(route: Route, method: string): boolean {
  return (
    (route.kind === 'manifest' && method === 'PUT') ||
    (route.kind === 'uploads' && method === 'POST') ||
    (route.kind === 'upload' && method !== 'DELETE')
  );
}

export function signerAccessFor(route: Route, url: URL): Access[] {
  return accessFor(route, 'PUT', url).map((a) =>
    a.type === 'repository' && a.actions.includes('push') ? { ...a, actions: ['pull', 'sign'] } : a
  );
}

/** `sha256-<hex>` (referrers tag schema), `sha256-<hex>.sig` / `.att` (cosign): the subject's digest, or null. */
export function signatureTagSubject(tag: string): string | null {
  const m = /^(sha256|sha512)-([0-9a-f]{64}|[0-9a-f]{128})(?:\.sig|\.att)?$/.exec(tag);
  return m ? `${m[1]}:${m[2]}` : null;
}

/**
 * What signing tools push by digest without a `subject` before tagging it with a signature tag:
 * a cosign signature manifest (signature layers only) or a referrers tag-schema index (every
 * entry an artifact). Neither can be run, and what is served is enforced all the same.
 */
function isSignatureListing(manifest: Manifest): boolean {
  if (isImageIndex(manifest)) return manifest.manifests.every((m) => m.artifactType !== undefined && !m.platform);
  return classifyManifest(manifest, false).kind === 'referrer';
}

/** Throws the authorizer's answer when the request is not allowed; `signerOnly` when only `sign` allowed it. */
export async function authorizeRoute(
  authorizer: Authorizer | undefined,
  req: IncomingMessage,
  route: Route,
  method: string,
  url: URL
): Promise<{ signerOnly: boolean }> {
  if (!authorizer) return { signerOnly: false };
  let result = await authorizer.check(req, accessFor(route, method, url));
  let signerOnly = false;
  // A user without `push` may still have `sign`: then only what signing writes is accepted.
  if (!result.ok && signerMayTry(route, method)) {
    const asSigner = await authorizer.check(req, signerAccessFor(route, url));
    if (asSigner.ok) {
      result = asSigner;
      signerOnly = true;
    }
  }
  if (!result.ok) throw authError(result);
  return { signerOnly };
}

/** The error answer of a refused authorization (401 with its challenge, or 403). */
export function authError(result: Exclude<Awaited<ReturnType<Authorizer['check']>>, { ok: true }>): RegistryError {
  return new RegistryError(
    result.code,
    result.message,
    result.status,
    result.challenge ? { 'WWW-Authenticate': result.challenge } : {}
  );
}

/** Users with `sign` read what does not verify yet (they are about to sign it); without --auth nobody does. */
export async function maySign(
  authorizer: Authorizer | undefined,
  req: IncomingMessage,
  name: string
): Promise<boolean> {
  if (!authorizer) return false;
  return (await authorizer.check(req, [{ type: 'repository', name, actions: ['sign'] }])).ok;
}

/**
 * The `sign` role writes what signing tools write and nothing else: a manifest with a `subject`
 * (or a signature listing) by digest, or the tag schema / cosign tags of a subject that exists here. It never creates,
 * moves or deletes another tag, and never pushes a manifest without a subject by digest.
 */
export async function checkSignerWrite(
  name: string,
  tag: string | undefined,
  manifest: Manifest,
  manifestExists: (digest: string) => Promise<boolean>
): Promise<void> {
  if (tag === undefined) {
    if (!manifest.subject && !isSignatureListing(manifest))
      throw new RegistryError(
        'DENIED',
        'the sign role may push only manifests that carry a subject (signatures, SBOMs, attestations)',
        403
      );
    return;
  }
  const subject = signatureTagSubject(tag);
  if (!subject || !(await manifestExists(subject)))
    throw new RegistryError(
      'DENIED',
      `the sign role may not write tag ${tag}: only sha256-<hex>, sha256-<hex>.sig and .att of a manifest in ${name}`,
      403
    );
}
