import type { Readable } from 'node:stream';
import type { Descriptor } from '../oci/index.ts';

/** Options of a fetch. */
export interface FetchOptions {
  signal?: AbortSignal;
}

/**
 * Something that stores OCI content: a registry repository, an OCI image layout (dir, tar, or
 * read-only over HTTP), or memory. Every feature of Signet is written once against this.
 *
 * Content is addressed by descriptor. Whether it is a manifest (stored under /manifests/ in a
 * registry, listed in index.json in a layout) or a blob is decided by the descriptor's media type
 * (`isManifestMediaType`).
 */
export interface Target {
  /** Human-readable name for messages, e.g. `127.0.0.1:5000/app` or `oci:/tmp/layout`. */
  readonly name: string;
  /** False for targets that cannot be written (a layout over HTTP). */
  readonly writable: boolean;

  /**
   * Resolves a tag or a digest to the descriptor of the manifest it names. For a digest the
   * target returns the manifest's real media type and size.
   */
  resolve(reference: string, options?: FetchOptions): Promise<Descriptor>;

  /** True when the content exists in the target. */
  exists(desc: Descriptor, options?: FetchOptions): Promise<boolean>;

  /**
   * Streams content. The stream errors (DIGEST_MISMATCH / SIZE_INVALID / SIZE_EXCEEDED) instead
   * of ending when the bytes do not match the descriptor, and never yields more than desc.size.
   */
  fetch(desc: Descriptor, options?: FetchOptions): Promise<Readable>;

  /** Pushes content under its descriptor; the target verifies size and digest before commit. */
  push(desc: Descriptor, content: Readable | Uint8Array, options?: FetchOptions): Promise<void>;

  /** Points a tag at a manifest that is already in the target. */
  tag(desc: Descriptor, tag: string, options?: FetchOptions): Promise<void>;

  /** Deletes a manifest (by digest) or a blob. */
  delete(desc: Descriptor, options?: FetchOptions): Promise<void>;

  /**
   * The manifests whose `subject` is `subject`, as referrer descriptors (with artifactType and
   * annotations), optionally filtered by artifact type.
   */
  referrers(subject: Descriptor, artifactType?: string, options?: FetchOptions): Promise<Descriptor[]>;

  /** Every tag, sorted. */
  tags(options?: FetchOptions): Promise<string[]>;

  /**
   * Mounts a blob from another repository of the same registry without moving bytes.
   * Returns false when this target cannot (then the caller copies). Only registries implement it.
   */
  mount?(desc: Descriptor, from: Target, options?: FetchOptions): Promise<boolean>;

  /** Releases connections, flushes and closes files (tar targets write here). */
  close(): Promise<void>;
}
