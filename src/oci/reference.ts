import { OciError } from './errors.ts';
import { parseDigest } from './digest.ts';

/** distribution-spec: repository name components and tags. */
export const REPO_NAME_RE = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;
export const TAG_RE = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
const MAX_REPO_NAME = 255;

export const DOCKER_HUB = 'docker.io';
const DOCKER_HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

/** A reference into a registry: `host[:port]/repo[:tag][@digest]`. */
export interface RegistryReference {
  kind: 'registry';
  /** Registry host[:port], normalised (`docker.io` for Docker Hub). */
  registry: string;
  repository: string;
  tag?: string;
  digest?: string;
}

/** A reference into an OCI image layout: `oci:<dir|file.tar|http(s)://url>[:tag|@digest]`. */
export interface LayoutReference {
  kind: 'layout';
  /** Directory, `.tar` file, or http(s) URL of the layout. */
  path: string;
  tag?: string;
  digest?: string;
}

export type Reference = RegistryReference | LayoutReference;

export function isValidRepositoryName(name: string): boolean {
  return name.length > 0 && name.length <= MAX_REPO_NAME && REPO_NAME_RE.test(name);
}

export function isValidTag(tag: string): boolean {
  return TAG_RE.test(tag);
}

export function validateRepositoryName(name: string): void {
  if (!isValidRepositoryName(name)) {
    throw new OciError('NAME_INVALID', `invalid repository name ${JSON.stringify(name.slice(0, 300))}: lower-case components [a-z0-9] joined by '.', '_', '__' or '-', separated by '/', at most ${MAX_REPO_NAME} characters`);
  }
}

export function validateTag(tag: string): void {
  if (!isValidTag(tag)) {
    throw new OciError('TAG_INVALID', `invalid tag ${JSON.stringify(tag.slice(0, 200))}: want [A-Za-z0-9_][A-Za-z0-9._-]{0,127}`);
  }
}

function looksLikeHost(component: string): boolean {
  return component.includes('.') || component.includes(':') || component === 'localhost';
}

/** Splits `name[:tag][@digest]` where `name` may contain a `host:port` prefix. */
function splitTagDigest(s: string): { name: string; tag?: string; digest?: string } {
  let rest = s;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    parseDigest(digest);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  const out: { name: string; tag?: string; digest?: string } = { name: rest };
  if (tag !== undefined) out.tag = tag;
  if (digest !== undefined) out.digest = digest;
  return out;
}

/** Parses `host[:port]/repo[:tag][@digest]` with Docker Hub defaults (`alpine` → `docker.io/library/alpine`). */
export function parseRegistryReference(input: string): RegistryReference {
  if (!input || input.length > 4096) throw new OciError('REFERENCE_INVALID', 'empty or over-long reference');
  if (/\s/.test(input)) throw new OciError('REFERENCE_INVALID', `reference ${JSON.stringify(input)} contains white space`);
  const { name, tag, digest } = splitTagDigest(input);
  const slash = name.indexOf('/');
  let registry: string;
  let repository: string;
  if (slash > 0 && looksLikeHost(name.slice(0, slash))) {
    registry = name.slice(0, slash);
    repository = name.slice(slash + 1);
  } else {
    registry = DOCKER_HUB;
    repository = name;
  }
  if (DOCKER_HUB_ALIASES.has(registry)) {
    registry = DOCKER_HUB;
    if (!repository.includes('/')) repository = `library/${repository}`;
  }
  if (!/^[A-Za-z0-9.-]+(?::[0-9]{1,5})?$|^\[[0-9a-fA-F:]+\](?::[0-9]{1,5})?$/.test(registry)) {
    throw new OciError('REFERENCE_INVALID', `invalid registry host ${JSON.stringify(registry)}`);
  }
  validateRepositoryName(repository);
  if (tag !== undefined) validateTag(tag);
  const ref: RegistryReference = { kind: 'registry', registry, repository };
  if (tag !== undefined) ref.tag = tag;
  if (digest !== undefined) ref.digest = digest;
  return ref;
}

/**
 * Parses `oci:<path-or-url>[:tag|@digest]`. The tag separator is the last ':' after the last '/'
 * (for URLs: after the host part), so Windows-free paths and `http://host:port/dir` both work.
 */
export function parseLayoutReference(input: string): LayoutReference {
  if (!input.startsWith('oci:')) throw new OciError('REFERENCE_INVALID', `layout reference must start with oci: (${input})`);
  let rest = input.slice(4);
  if (!rest) throw new OciError('REFERENCE_INVALID', 'oci: reference without a path');
  // A Flatpak ref (app/… or runtime/…, with '/' in it) names a manifest of a layout by its
  // org.opencontainers.image.ref.name; it is not an OCI tag, so it is split off explicitly.
  const flatpak = /^(.+?):((?:app|runtime)\/[^:@\s]+)$/.exec(rest);
  if (flatpak) return { kind: 'layout', path: flatpak[1]!, tag: flatpak[2]! };
  let digest: string | undefined;
  let tag: string | undefined;
  const at = rest.lastIndexOf('@');
  const isUrl = /^https?:\/\//i.test(rest);
  const pathStart = isUrl ? rest.indexOf('/', rest.indexOf('://') + 3) : 0;
  if (at > 0 && (pathStart < 0 || at > pathStart) && at > rest.lastIndexOf('/')) {
    digest = rest.slice(at + 1);
    parseDigest(digest);
    rest = rest.slice(0, at);
  } else {
    const colon = rest.lastIndexOf(':');
    const minColon = isUrl ? (pathStart < 0 ? Infinity : pathStart) : rest.lastIndexOf('/');
    if (colon > minColon && colon > rest.lastIndexOf('/')) {
      tag = rest.slice(colon + 1);
      rest = rest.slice(0, colon);
      if (!tag) throw new OciError('REFERENCE_INVALID', `empty tag in ${input}`);
    }
  }
  if (!rest) throw new OciError('REFERENCE_INVALID', `oci: reference without a path (${input})`);
  const ref: LayoutReference = { kind: 'layout', path: rest };
  if (tag !== undefined) ref.tag = tag;
  if (digest !== undefined) ref.digest = digest;
  return ref;
}

/** Parses any reference Signet accepts on the command line. */
export function parseReference(input: string): Reference {
  return input.startsWith('oci:') ? parseLayoutReference(input) : parseRegistryReference(input);
}

/** The canonical string form of a reference. */
export function formatReference(ref: Reference): string {
  const base = ref.kind === 'layout' ? `oci:${ref.path}` : `${ref.registry}/${ref.repository}`;
  return `${base}${ref.tag !== undefined ? `:${ref.tag}` : ''}${ref.digest !== undefined ? `@${ref.digest}` : ''}`;
}

/** The same reference pinned to a digest (tag dropped). */
export function withDigest<R extends Reference>(ref: R, digest: string): R {
  const out = { ...ref, digest };
  delete out.tag;
  return out;
}
