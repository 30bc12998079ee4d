import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { OciError } from './errors.ts';

/** Digest algorithms Signet computes and accepts (image-spec "registered algorithms"). */
export type DigestAlgorithm = 'sha256' | 'sha512';

const HEX_LENGTH: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 };
const DIGEST_RE = /^([a-z0-9]+(?:[+._-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$/;

/** A parsed, validated digest `alg:hex`. */
export interface ParsedDigest {
  algorithm: DigestAlgorithm;
  hex: string;
}

/** Parses and validates a digest string; throws DIGEST_INVALID naming what is wrong. */
export function parseDigest(digest: unknown): ParsedDigest {
  if (typeof digest !== 'string') throw new OciError('DIGEST_INVALID', `digest must be a string, got ${typeof digest}`);
  const m = DIGEST_RE.exec(digest);
  if (!m) throw new OciError('DIGEST_INVALID', `invalid digest ${JSON.stringify(digest.slice(0, 200))}: want <algorithm>:<hex>`);
  const algorithm = m[1] as string;
  const hex = m[2] as string;
  if (algorithm !== 'sha256' && algorithm !== 'sha512') {
    throw new OciError('DIGEST_INVALID', `unsupported digest algorithm ${JSON.stringify(algorithm)} (want sha256 or sha512)`);
  }
  if (hex.length !== HEX_LENGTH[algorithm] || !/^[a-f0-9]+$/.test(hex)) {
    throw new OciError('DIGEST_INVALID', `invalid ${algorithm} digest: want ${HEX_LENGTH[algorithm]} lower-case hex characters`);
  }
  return { algorithm, hex };
}

/** True when `digest` is a valid sha256/sha512 digest. */
export function isValidDigest(digest: unknown): digest is string {
  try {
    parseDigest(digest);
    return true;
  } catch {
    return false;
  }
}

/** The digest of a byte string. */
export function digestOf(data: Uint8Array | string, algorithm: DigestAlgorithm = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}`;
}

/** An incremental hasher that yields `alg:hex`. */
export class Digester {
  readonly algorithm: DigestAlgorithm;
  private readonly hash: Hash;
  size = 0;

  constructor(algorithm: DigestAlgorithm = 'sha256') {
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
      cb(new OciError('SIZE_EXCEEDED', `content of ${this.expectedDigest} is larger than its declared size ${this.expectedSize}`));
      return;
    }
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    if (this.digester.size !== this.expectedSize) {
      cb(new OciError('SIZE_INVALID', `content of ${this.expectedDigest} has ${this.digester.size} bytes, declared ${this.expectedSize}`));
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
    throw new OciError('SIZE_INVALID', `content of ${expected.digest} has ${data.length} bytes, declared ${expected.size}`);
  }
  const { algorithm } = parseDigest(expected.digest);
  const actual = digestOf(data, algorithm);
  if (actual !== expected.digest) {
    throw new OciError('DIGEST_MISMATCH', `content digest ${actual} does not match ${expected.digest}`);
  }
}
