import { describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { digestOf, parseDigest, VerifyingStream, verifyBytes } from '../../../src/oci/index.ts';

describe('digest', () => {
  it('computes sha256 and sha512', () => {
    expect(digestOf('')).toBe('sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(digestOf('', 'sha512')).toMatch(/^sha512:cf83e135/);
  });
  it.each([
    ['sha256:abc', /64 lower-case hex/],
    ['md5:d41d8cd98f00b204e9800998ecf8427e', /unsupported digest algorithm/],
    ['sha256:' + 'A'.repeat(64), /lower-case hex/],
    ['nocolon', /want <algorithm>:<hex>/],
  ])('rejects %s', (d, msg) => {
    expect(() => parseDigest(d)).toThrow(msg);
  });
  it('verifying stream passes good bytes and rejects tampered, short and long ones', async () => {
    const data = Buffer.from('hello world');
    const desc = { digest: digestOf(data), size: data.length };
    const sink = () => new Writable({ write: (_c, _e, cb) => cb() });
    await pipeline(Readable.from([data]), new VerifyingStream(desc), sink());
    await expect(
      pipeline(Readable.from([Buffer.from('hello worle')]), new VerifyingStream(desc), sink())
    ).rejects.toThrow(/does not match/);
    await expect(pipeline(Readable.from([Buffer.from('hello')]), new VerifyingStream(desc), sink())).rejects.toThrow(
      /declared 11/
    );
    await expect(
      pipeline(Readable.from([Buffer.from('hello world!!')]), new VerifyingStream(desc), sink())
    ).rejects.toThrow(/larger than/);
    expect(() => verifyBytes(Buffer.from('x'), desc)).toThrow(/declared 11/);
  });
});
