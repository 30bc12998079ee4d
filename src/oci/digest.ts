import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { OciError } from './errors.ts';

/**
 * Digest algorithms of registry content: the image-spec "registered algorithms" Signet stores,
 * fetches and addresses by (manifests, blobs, references, layout paths).
 */
export type DigestAlgorithm = 'sha256' | 'sha512';

/**
 * Digest algorithms of a Notary Project signed artifact: a blob's digest algorithm follows the
 * signing key (notary-spec §2: SHA-384 for RSA-3072 and EC P-384), so `sha384` is valid here
 * and nowhere else.
 */
export type ArtifactDigestAlgorithm = DigestAlgorithm | 'sha384';

const HEX_LENGTH: Record<ArtifactDigestAlgorithm, number> = { sha256: 64, sha384: 96, sha512: 128 };
const REGISTRY_ALGORITHMS: readonly DigestAlgorithm[] = ['sha256', 'sha512'];
const ARTIFACT_ALGORITHMS: readonly ArtifactDigestAlgorithm[] = ['sha256', 'sha384', 'sha512'];
const DIGEST_RE = /^([a-z0-9]+(?:[+._-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$/;

/** A parsed, validated digest `alg:hex`. */
export interface ParsedDigest<A extends ArtifactDigestAlgorithm = DigestAlgorithm> {
  algorithm: A;
  hex: string;
}

function parseWith<A extends ArtifactDigestAlgorithm>(digest: unknown, allowed: readonly A[]): ParsedDigest<A> {
  if (typeof digest !== 'string') throw new OciError('DIGEST_INVALID', `digest must be a string, got ${typeof digest}`);
  const m = DIGEST_RE.exec(digest);
  if (!m) {
    const shown = JSON.stringify(digest.slice(0, 200));
    throw new OciError('DIGEST_INVALID', `invalid digest ${shown}: want <algorithm>:<hex>`);
  }
  const algorithm = m[1] as string;
  const hex = m[2] as string;
  if (!(allowed as readonly string[]).includes(algorithm)) {
    const want = allowed.join(', ').replace(/, ([^,]*)$/, ' or $1');
    throw new OciError('DIGEST_INVALID', `unsupported digest algorithm ${JSON.stringify(algorithm)} (want ${want})`);
  }
  const length = HEX_LENGTH[algorithm as A];
  if (hex.length !== length || !/^[a-f0-9]+$/.test(hex)) {
    throw new OciError('DIGEST_INVALID', `invalid ${algorithm} digest: want ${length} lower-case hex characters`);
  }
  return { algorithm: algorithm as A, hex };
}

/**
 * Parses and validates a registry digest (sha256 or sha512); throws DIGEST_INVALID naming what
 * is wrong. Every digest that addresses stored or fetched content goes through this.
 */
export function parseDigest(digest: unknown): ParsedDigest {
  return parseWith(digest, REGISTRY_ALGORITHMS);
}

// A sha256 digest in its one valid form, recognised by one anchored test before the full parse
// (which throws, and builds an error, for what it refuses): whatever matches is valid for it too.
const SHA256_DIGEST = /^sha256:[a-f0-9]{64}$/;

/** True when `digest` is a valid sha256/sha512 (registry) digest. */
export function isValidDigest(digest: unknown): digest is string {
  if (typeof digest === 'string' && SHA256_DIGEST.test(digest)) return true;
  try {
    parseDigest(digest);
    return true;
  } catch {
    return false;
  }
}

/**
 * Parses the digest of a signed artifact's descriptor (a Notary Project `targetArtifact`):
 * sha256, sha384 or sha512. Never use it for a digest that addresses registry content.
 */
export function parseArtifactDigest(digest: unknown): ParsedDigest<ArtifactDigestAlgorithm> {
  return parseWith(digest, ARTIFACT_ALGORITHMS);
}

/** True when `digest` is a valid sha256/sha384/sha512 signed-artifact digest. */
export function isValidArtifactDigest(digest: unknown): digest is string {
  try {
    parseArtifactDigest(digest);
    return true;
  } catch {
    return false;
  }
}

/** The digest of a byte string. */
export function digestOf(data: Uint8Array | string, algorithm: ArtifactDigestAlgorithm = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}`;
}

/** An incremental hasher that yields `alg:hex`. */
export class Digester {
  readonly algorithm: ArtifactDigestAlgorithm;
  private readonly hash: Hash;
  size = 0;

  constructor(algorithm: ArtifactDigestAlgorithm = 'sha256') {
    this.algorithm = algorithm;
    this.hash = createHash(algorithm);
  }

  update(chunk: Uint8Array): void {
    this.hash.update(chunk);
    this.size += chunk.length;
  }

  digest(): string {
    return `${this.algorithm}:${this.hash.digest('hex')}`;
  }
}

/**
 * A pass-through stream that checks size and digest while bytes flow, and errors instead of
 * ending when they do not match: a consumer never sees the end of a stream whose bytes are wrong.
 * It also stops as soon as more than `expected.size` bytes arrive (an endless body cannot exhaust
 * memory or disk).
 */
export class VerifyingStream extends Transform {
  private readonly digester: Digester;
  private readonly expectedDigest: string;
  private readonly expectedSize: number;

  constructor(expected: { digest: string; size: number }) {
    super();
    const parsed = parseDigest(expected.digest);
    this.digester = new Digester(parsed.algorithm);
    this.expectedDigest = expected.digest;
    this.expectedSize = expected.size;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.digester.update(chunk);
    if (this.digester.size > this.expectedSize) {
      cb(
        new OciError(
          'SIZE_EXCEEDED',
          `content of ${this.expectedDigest} is larger than its declared size ${this.expectedSize}`
        )
      );
      return;
    }
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    if (this.digester.size !== this.expectedSize) {
      cb(
        new OciError(
          'SIZE_INVALID',
          `content of ${this.expectedDigest} has ${this.digester.size} bytes, declared ${this.expectedSize}`
        )
      );
      return;
    }
    const actual = this.digester.digest();
    if (actual !== this.expectedDigest) {
      cb(new OciError('DIGEST_MISMATCH', `content digest ${actual} does not match ${this.expectedDigest}`));
      return;
    }
    cb();
  }
}

/** Checks bytes already in memory against a descriptor's size and digest. */
export function verifyBytes(data: Uint8Array, expected: { digest: string; size: number }): void {
  if (data.length !== expected.size) {
    throw new OciError(
      'SIZE_INVALID',
      `content of ${expected.digest} has ${data.length} bytes, declared ${expected.size}`
    );
  }
  const { algorithm } = parseDigest(expected.digest);
  const actual = digestOf(data, algorithm);
  if (actual !== expected.digest) {
    throw new OciError('DIGEST_MISMATCH', `content digest ${actual} does not match ${expected.digest}`);
  }
}

/** A file's digest and size, streamed (detached blob signatures). */
export async function digestFile(
  path: string,
  algorithm: ArtifactDigestAlgorithm = 'sha256'
): Promise<{ digest: string; size: number }> {
  const { createReadStream } = await import('node:fs');
  const h = new Digester(algorithm);
  for await (const c of createReadStream(path)) h.update(c as Buffer);
  return { digest: h.digest(), size: h.size };
}
