import { Readable } from 'node:stream';
import { OciError, parseVerifiedManifest, type Descriptor, type Manifest, MAX_MANIFEST_SIZE } from '../oci/index.ts';
import type { FetchOptions, ReadStore } from './target.ts';

/**
 * Reads a whole piece of content into memory, refusing anything over `maxSize` before reading
 * (the descriptor's size is checked first, and the verifying stream stops at desc.size).
 */
export async function fetchAll(
  target: ReadStore,
  desc: Descriptor,
  maxSize = MAX_MANIFEST_SIZE,
  options?: FetchOptions
): Promise<Uint8Array> {
  if (desc.size > maxSize) {
    throw new OciError(
      'SIZE_EXCEEDED',
      `${desc.digest} is ${desc.size} bytes, over the ${maxSize}-byte limit for in-memory content`
    );
  }
  if (target.fetchBytes) return target.fetchBytes(desc, options);
  const stream = await target.fetch(desc, options);
  return readAll(stream, maxSize);
}

/** Collects a stream into one buffer, failing past `maxSize` bytes. */
export async function readAll(stream: Readable | AsyncIterable<Uint8Array>, maxSize: number): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream as AsyncIterable<Uint8Array>) {
    total += chunk.length;
    if (total > maxSize) {
      if (stream instanceof Readable) stream.destroy();
      throw new OciError('SIZE_EXCEEDED', `content exceeds the ${maxSize}-byte limit`);
    }
    chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
  }
  return Buffer.concat(chunks, total);
}

/** Fetches and parses a manifest, verified against its descriptor. */
export async function fetchManifest(
  target: ReadStore,
  desc: Descriptor,
  options?: FetchOptions
): Promise<{ manifest: Manifest; bytes: Uint8Array }> {
  const bytes = await fetchAll(target, desc, MAX_MANIFEST_SIZE, options);
  return { manifest: parseVerifiedManifest(bytes, desc), bytes };
}

/** Turns push input into a stream. */
export function toStream(content: Readable | Uint8Array): Readable {
  return content instanceof Uint8Array
    ? Readable.from([Buffer.from(content.buffer, content.byteOffset, content.length)])
    : content;
}
