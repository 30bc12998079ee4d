// Local files are read with a bound (sizes are bounded everywhere): a trust policy, a trust
// store's certificate file or a signature file far over any real size is refused with
// SIZE_EXCEEDED, and a device or a file that never ends (/dev/zero) is cut off at the bound
// instead of exhausting memory.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyBlob } from '../../../src/index.ts';
import { loadBlobTrustPolicy, loadTrustPolicyFile, TrustStore } from '../../../src/trust/index.ts';
import { MAX_CONFIG_FILE_SIZE, readFileBounded } from '../../../src/util/index.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'signet-file-bounded-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('readFileBounded', () => {
  it('reads a file up to the bound whole, refuses one over it, and fails on a missing file as readFile does', async () => {
    const f = join(dir, 'at-bound');
    await writeFile(f, Buffer.alloc(1000, 0x61));
    expect((await readFileBounded(f, 1000)).length).toBe(1000);
    await expect(readFileBounded(f, 999, 'the thing')).rejects.toMatchObject({
      code: 'SIZE_EXCEEDED',
      message: 'the thing is 1000 bytes, over the 999-byte limit',
    });
    await expect(readFileBounded(join(dir, 'missing'), 10)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('cuts off a device that never ends', async () => {
    await expect(readFileBounded('/dev/zero', 1 << 20)).rejects.toMatchObject({
      code: 'SIZE_EXCEEDED',
      message: expect.stringMatching(/larger than the 1048576-byte limit/),
    });
  });
});

describe('local inputs read with a bound', () => {
  it('a trust policy that is a device or far too large is refused, not read to the end', async () => {
    await expect(loadTrustPolicyFile('/dev/zero')).rejects.toMatchObject({
      code: 'POLICY_UNREADABLE',
      message: expect.stringMatching(
        /^cannot read trust policy \/dev\/zero: \/dev\/zero is larger than the 4194304-byte limit/
      ),
    });
    const big = join(dir, 'trustpolicy.json');
    await writeFile(big, '');
    await truncate(big, MAX_CONFIG_FILE_SIZE + 1);
    await expect(loadTrustPolicyFile(big)).rejects.toMatchObject({
      code: 'POLICY_UNREADABLE',
      message: expect.stringMatching(/is 4194305 bytes, over the 4194304-byte limit/),
    });
  });

  it('a trust store file far too large is refused, naming the store and the file', async () => {
    const store = join(dir, 'store');
    await mkdir(join(store, 'x509', 'ca', 'big'), { recursive: true });
    const f = join(store, 'x509', 'ca', 'big', 'huge.pem');
    await writeFile(f, '');
    await truncate(f, MAX_CONFIG_FILE_SIZE + 1);
    await expect(new TrustStore(store).getCertificates('ca', 'big')).rejects.toMatchObject({
      code: 'SIZE_EXCEEDED',
      message: expect.stringMatching(/^trust store "big" file huge\.pem is 4194305 bytes/),
    });
  });

  it('a blob signature file over the envelope bound is refused before it is parsed', async () => {
    const file = join(dir, 'payload.bin');
    await writeFile(file, 'payload');
    const sig = join(dir, 'payload.bin.jws.sig');
    await writeFile(sig, '');
    await truncate(sig, 2 * 1024 * 1024);
    const policy = loadBlobTrustPolicy({
      version: '1.0',
      trustPolicies: [
        {
          name: 'blobs',
          globalPolicy: true,
          signatureVerification: { level: 'strict' },
          trustStores: ['ca:big'],
          trustedIdentities: ['*'],
        },
      ],
    });
    await expect(verifyBlob(file, sig, { trustPolicy: policy, trustStore: dir })).rejects.toMatchObject({
      code: 'SIZE_EXCEEDED',
      message: expect.stringMatching(/^signature file .* is 2097152 bytes, over the 1048576-byte limit/),
    });
  });
});
