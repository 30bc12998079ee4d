import { OciError, type OciErrorCode } from './errors.ts';
import { parseDigest } from './digest.ts';

/**
 * distribution-spec: the one repository-name grammar (lower-case components joined by '.', '_',
 * '__' or dashes, separated by '/'). References, the server's routes and trust policy scopes all
 * use it.
 */
export const REPO_NAME_RE = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;
/** The repository-name grammar under its descriptive name (same object as REPO_NAME_RE). */
export const REPOSITORY_RE = REPO_NAME_RE;
export const TAG_RE = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
/**
 * A Flatpak ref (`app/<id>/<arch>/<branch>`, `runtime/…`): in an OCI layout it names a manifest
 * by its org.opencontainers.image.ref.name, like a tag (flatpak build-bundle --oci writes them).
 */
export const FLATPAK_REF_RE = /^(?:app|runtime)\/[A-Za-z0-9._-]+\/[A-Za-z0-9._-]+\/[A-Za-z0-9._-]+$/;
const MAX_REPO_NAME = 255;
const MAX_REFERENCE = 4096;

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

/** The repository-name grammar (REPOSITORY_RE, at most 255 characters). */
export function isValidRepository(name: string): boolean {
  return isValidRepositoryName(name);
}

export function isValidTag(tag: string): boolean {
  return TAG_RE.test(tag);
}

/** True for a Flatpak ref (`app/org.x.App/x86_64/stable`). */
export function isFlatpakRef(ref: string): boolean {
  return FLATPAK_REF_RE.test(ref);
}

/**
 * The names a manifest of an OCI layout can be given in a reference (`oci:DIR:<name>`): an OCI
 * tag or a Flatpak ref. Registries take OCI tags only.
 */
export function isValidLayoutRefName(name: string): boolean {
  return isValidTag(name) || isFlatpakRef(name);
}

/** A malformed name or reference: a usage error (exit 2), never an I/O or data one. */
function usage(code: OciErrorCode, message: string): OciError {
  return new OciError(code, message);
}

export function validateRepositoryName(name: string): void {
  if (!isValidRepositoryName(name)) {
    throw usage(
      'NAME_INVALID',
      `invalid repository name ${JSON.stringify(name.slice(0, 300))}: lower-case components [a-z0-9] joined by '.', ` +
        `'_', '__' or '-', separated by '/', at most ${MAX_REPO_NAME} characters`
    );
  }
}

export function validateTag(tag: string): void {
  if (!isValidTag(tag)) {
    const shown = JSON.stringify(tag.slice(0, 200));
    throw usage('TAG_INVALID', `invalid tag ${shown}: want [A-Za-z0-9_][A-Za-z0-9._-]{0,127}`);
  }
}

/** Validates the name of a layout manifest in a reference: an OCI tag or a Flatpak ref. */
export function validateLayoutRefName(name: string): void {
  if (!isValidLayoutRefName(name)) {
    throw usage(
      'TAG_INVALID',
      `invalid layout ref ${JSON.stringify(name.slice(0, 200))}: want an OCI tag ([A-Za-z0-9_][A-Za-z0-9._-]{0,127}) ` +
        'or a Flatpak ref (app|runtime/ID/ARCH/BRANCH)'
    );
  }
}

/** A digest inside a reference: malformed is a usage error, whatever parseDigest says. */
function validateReferenceDigest(digest: string, input: string): void {
  try {
    parseDigest(digest);
  } catch (err) {
    throw usage('DIGEST_INVALID', `reference ${JSON.stringify(input.slice(0, 300))}: ${(err as Error).message}`);
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
    validateReferenceDigest(digest, s);
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

/**
 * A reference written as a path or URL without `oci:` would otherwise be read as a registry host
 * (`./x.tar:v1` → host `.`): say how to name a layout instead.
 */
function refuseLayoutWithoutPrefix(input: string): void {
  if (/^(?:\.{1,2}(?:[/\\]|$|:)|[/\\~])/.test(input)) {
    throw usage(
      'REFERENCE_INVALID',
      `${JSON.stringify(input)} looks like a path: an OCI image layout is named with oci:, ` +
        `write oci:${input} (registry references are host[:port]/repository[:tag][@digest])`
    );
  }
  const url = /^([a-z][a-z0-9+.-]*):\/\//i.exec(input);
  if (url) {
    const scheme = url[1]!.toLowerCase();
    const hint =
      scheme === 'http' || scheme === 'https'
        ? `a registry reference has no scheme (write ${input.slice(url[0].length)}); ` +
          `a layout served over HTTP is oci:${input}`
        : 'registry references are host[:port]/repository[:tag][@digest], layouts oci:<dir|file.tar|http(s)://url>';
    throw usage('REFERENCE_INVALID', `${JSON.stringify(input.slice(0, 300))} is a URL: ${hint}`);
  }
}

/** Parses `host[:port]/repo[:tag][@digest]` with Docker Hub defaults (`alpine` → `docker.io/library/alpine`). */
export function parseRegistryReference(input: string): RegistryReference {
  if (!input || input.length > MAX_REFERENCE) throw usage('REFERENCE_INVALID', 'empty or over-long reference');
  if (/\s/.test(input)) throw usage('REFERENCE_INVALID', `reference ${JSON.stringify(input)} contains white space`);
  refuseLayoutWithoutPrefix(input);
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
    const shown = JSON.stringify(input.slice(0, 300));
    throw usage('REFERENCE_INVALID', `invalid registry host ${JSON.stringify(registry)} in ${shown}`);
  }
  validateRepositoryName(repository);
  if (tag !== undefined) validateTag(tag);
  const ref: RegistryReference = { kind: 'registry', registry, repository };
  if (tag !== undefined) ref.tag = tag;
  if (digest !== undefined) ref.digest = digest;
  return ref;
}

/**
 * Parses `oci:<path-or-url>[:name|@digest]`, where a name is an OCI tag or a Flatpak ref (the one
 * layout ref grammar: isValidLayoutRefName). A Flatpak ref contains '/', so it is recognised by
 * its form; otherwise the name separator is the last ':' after the last '/' (for URLs: after the
 * host part), so `oci:./dir:v1` and `oci:http://host:port/dir` both work.
 */
export function parseLayoutReference(input: string): LayoutReference {
  if (!input.startsWith('oci:')) throw usage('REFERENCE_INVALID', `layout reference must start with oci: (${input})`);
  if (input.length > MAX_REFERENCE) throw usage('REFERENCE_INVALID', 'over-long reference');
  let rest = input.slice(4);
  if (!rest) throw usage('REFERENCE_INVALID', 'oci: reference without a path');
  const flatpak = /^(.+):((?:app|runtime)\/[^:@]*)$/.exec(rest);
  if (flatpak) {
    validateLayoutRefName(flatpak[2]!);
    return { kind: 'layout', path: flatpak[1]!, tag: flatpak[2]! };
  }
  let digest: string | undefined;
  let tag: string | undefined;
  const at = rest.lastIndexOf('@');
  const isUrl = /^https?:\/\//i.test(rest);
  const pathStart = isUrl ? rest.indexOf('/', rest.indexOf('://') + 3) : 0;
  if (at > 0 && (pathStart < 0 || at > pathStart) && at > rest.lastIndexOf('/')) {
    digest = rest.slice(at + 1);
    validateReferenceDigest(digest, input);
    rest = rest.slice(0, at);
  } else {
    const colon = rest.lastIndexOf(':');
    const minColon = isUrl ? (pathStart < 0 ? Infinity : pathStart) : rest.lastIndexOf('/');
    if (colon > minColon && colon > rest.lastIndexOf('/')) {
      tag = rest.slice(colon + 1);
      rest = rest.slice(0, colon);
      if (!tag) throw usage('REFERENCE_INVALID', `empty tag in ${input}`);
      validateLayoutRefName(tag);
    }
  }
  if (!rest) throw usage('REFERENCE_INVALID', `oci: reference without a path (${input})`);
  const ref: LayoutReference = { kind: 'layout', path: rest };
  if (tag !== undefined) ref.tag = tag;
  if (digest !== undefined) ref.digest = digest;
  return ref;
}

/** Parses any reference Signet accepts on the command line (malformed: OciError of kind 'usage'). */
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
