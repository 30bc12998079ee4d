import type { Readable } from 'node:stream';
import type { Descriptor, ImageIndex } from '../oci/index.ts';
import { OciError } from '../oci/index.ts';

/** Options of a fetch. */
export interface FetchOptions {
  signal?: AbortSignal;
}

/*
 * Storage by capability (as oras-go splits it): every store implements the small interfaces it
 * can, so a read-only store (a layout over HTTP) has no methods that only throw. Content is
 * addressed by descriptor; whether it is a manifest or a blob follows from its media type.
 */

/** Reads content: every store can. */
export interface ReadStore {
  /** Human-readable name for messages, e.g. `127.0.0.1:5000/app` or `oci:/tmp/layout`. */
  readonly name: string;
  /** Resolves a tag or a digest to the descriptor of the manifest it names (real media type and size). */
  resolve(reference: string, options?: FetchOptions): Promise<Descriptor>;
  /** True when the content exists. */
  exists(desc: Descriptor, options?: FetchOptions): Promise<boolean>;
  /**
   * Streams content. The stream errors (DIGEST_MISMATCH / SIZE_INVALID / SIZE_EXCEEDED) instead
   * of ending when the bytes do not match the descriptor, and never yields more than desc.size.
   */
  fetch(desc: Descriptor, options?: FetchOptions): Promise<Readable>;
  /**
   * Reads content whole, checked against the descriptor as fetch is: for a store that can hand
   * small content over without a stream (a registry). fetchAll uses it when it is there.
   */
  fetchBytes?(desc: Descriptor, options?: FetchOptions): Promise<Uint8Array>;
  /** Every tag, sorted. */
  tags(options?: FetchOptions): Promise<string[]>;
  /** Releases connections, flushes and closes files (tar stores write here). */
  close(): Promise<void>;
}

/** Lists the manifests whose `subject` is a given artifact (referrers API or tag schema). */
export interface ReferrerLister {
  referrers(subject: Descriptor, artifactType?: string, options?: FetchOptions): Promise<Descriptor[]>;
}

/** Takes content under its descriptor; size and digest are verified before commit. */
export interface Pusher {
  push(desc: Descriptor, content: Readable | Uint8Array, options?: FetchOptions): Promise<void>;
}

/** Options of a tag: the manifest's bytes when the caller has them (checked against the descriptor). */
export interface TagOptions extends FetchOptions {
  manifest?: Uint8Array;
}

/** Points a tag at a manifest already stored. */
export interface Tagger {
  tag(desc: Descriptor, tag: string, options?: TagOptions): Promise<void>;
}

/** Deletes a manifest (by digest) or a blob. */
export interface Deleter {
  delete(desc: Descriptor, options?: FetchOptions): Promise<void>;
}

/** Mounts a blob from another repository of the same registry without moving bytes (false: copy it). */
export interface Mounter {
  mount(desc: Descriptor, from: ReadableTarget, options?: FetchOptions): Promise<boolean>;
}

/** An OCI layout's own index: what a statically signed layout keeps its signatures in. */
export interface LayoutIndexReader {
  readIndex(): Promise<ImageIndex>;
  /** A blob known only by digest, read with a bound and checked against the digest. */
  fetchByDigest(digest: string, maxSize: number): Promise<Uint8Array>;
}

/** What every store does: read and list referrers (a layout served over HTTP does no more). */
export type ReadableTarget = ReadStore & ReferrerLister;

/** A store that can also be written: a registry repository, a layout dir or tar, memory. */
export interface Target extends ReadStore, ReferrerLister, Pusher, Tagger, Deleter {
  mount?: Mounter['mount'];
}

/** True when the store can take pushes, tags and deletes. */
export function isWritable(t: ReadableTarget): t is Target {
  const w = t as Partial<Target>;
  return typeof w.push === 'function' && typeof w.tag === 'function' && typeof w.delete === 'function';
}

/** The store as a writable one, or a coded error naming it as read-only. */
export function requireWritable(t: ReadableTarget): Target {
  if (!isWritable(t))
    throw new OciError('READ_ONLY', `${t.name} is read-only (a layout served over HTTP cannot be written)`);
  return t;
}

/** True for a store with an OCI layout index (dir, tar, HTTP). */
export function hasLayoutIndex(t: ReadableTarget): t is ReadableTarget & LayoutIndexReader {
  const r = t as Partial<LayoutIndexReader>;
  return typeof r.readIndex === 'function' && typeof r.fetchByDigest === 'function';
}
