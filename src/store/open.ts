import { formatReference, OciError, parseReference, type Descriptor, type Reference } from '../oci/index.ts';
import type { Logger } from '../util/index.ts';
import { dockerCredentials, type CredentialProvider } from './credentials/index.ts';
import { openLayout } from './layout/index.ts';
import { RegistryTarget, type RegistryClientPool } from './registry/index.ts';
import type { ReadableTarget, Target } from './target.ts';

export interface OpenOptions {
  /** Create a layout (dir or tar) that does not exist yet. */
  create?: boolean;
  /** Speak HTTP, not HTTPS, to a registry (default: loopback names only, or `SIGNET_PLAIN_HTTP`). */
  plainHttp?: boolean;
  /** HTTPS without verifying the registry's certificate: for test registries (implies HTTPS). */
  insecure?: boolean;
  credentials?: CredentialProvider;
  referrers?: 'auto' | 'api' | 'tag';
  logger?: Logger;
  /**
   * Share one client (keep-alive connections, tokens) per registry between the targets opened
   * with this pool (a batch); the pool's owner closes it.
   */
  pool?: RegistryClientPool;
}

export interface OpenedTarget<T extends ReadableTarget = ReadableTarget> {
  target: T;
  /** The tag or digest named by the reference (digest wins), if any. */
  reference: string | undefined;
  parsed: Reference;
}

/**
 * Opens the store a reference names: a registry repository or an OCI image layout. With
 * `create` the store is writable (a layout over HTTP is refused); otherwise it is what it is:
 * `requireWritable()` before writing.
 */
export async function openTarget(
  ref: string | Reference,
  options: OpenOptions & { create: true }
): Promise<OpenedTarget<Target>>;
export async function openTarget(ref: string | Reference, options?: OpenOptions): Promise<OpenedTarget>;
export async function openTarget(ref: string | Reference, options: OpenOptions = {}): Promise<OpenedTarget> {
  const parsed = typeof ref === 'string' ? parseReference(ref) : ref;
  let target: ReadableTarget;
  if (parsed.kind === 'layout') {
    target = await openLayout(parsed.path, { create: options.create ?? false });
  } else {
    const clientOptions = {
      registry: parsed.registry,
      credentials: options.credentials ?? dockerCredentials(),
      ...(options.plainHttp !== undefined ? { plainHttp: options.plainHttp } : {}),
      ...(options.insecure ? { insecure: true } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
    };
    target = new RegistryTarget({
      ...clientOptions,
      repository: parsed.repository,
      ...(options.referrers ? { referrers: options.referrers } : {}),
      ...(options.pool ? { client: options.pool.client(clientOptions) } : {}),
    });
  }
  let reference = parsed.digest ?? parsed.tag;
  if (!reference && parsed.kind === 'layout' && !options.create) {
    // A layout holding exactly one named manifest (a Flatpak bundle) needs no tag to be named.
    const tags = await target.tags().catch(() => []);
    if (tags.length === 1) reference = tags[0];
  }
  return { target, reference, parsed };
}

/**
 * Resolves what an opened reference names, once: the descriptor of the manifest (media type,
 * digest, size only). Every later step names that digest, never the tag again.
 */
export async function resolveOpened(opened: OpenedTarget, name = formatReference(opened.parsed)): Promise<Descriptor> {
  if (!opened.reference) throw new OciError('REFERENCE_INVALID', `${name} needs a tag or digest`);
  const d = await opened.target.resolve(opened.reference);
  return { mediaType: d.mediaType, digest: d.digest, size: d.size };
}
