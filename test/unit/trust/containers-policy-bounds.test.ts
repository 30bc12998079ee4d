import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadContainersPolicy } from '../../../src/trust/index.ts';
import { SignetError } from '../../../src/util/index.ts';

/** Issue 13: the files a containers policy.json names are read with a bound (docs/security.md). */
describe('containers policy.json: bounded reads of the key files it names', () => {
  let dir: string;
  const big = 'x'.repeat(1024 * 1024 + 1);
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'signet-cpol-bounds-'));
    await writeFile(join(dir, 'big.gpg'), big);
    await writeFile(join(dir, 'small.gpg'), 'x');
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));
  const load = async (doc: unknown) => {
    const p = join(dir, `p${Math.random()}.json`);
    await writeFile(p, JSON.stringify(doc));
    return loadContainersPolicy(p);
  };
  const refusal = async (p: Promise<unknown>): Promise<SignetError> => {
    const err = await p.then(
      () => undefined,
      (e: unknown) => e
    );
    expect(err).toBeInstanceOf(SignetError);
    return err as SignetError;
  };

  it.each([
    ['signedBy keyPath', { type: 'signedBy', keyType: 'GPGKeys', keyPath: 'big.gpg' }],
    ['signedBy keyPaths', { type: 'signedBy', keyType: 'GPGKeys', keyPaths: ['small.gpg', 'big.gpg'] }],
    ['sigstoreSigned keyPath', { type: 'sigstoreSigned', keyPath: 'big.gpg' }],
    [
      'sigstoreSigned fulcio caPath',
      {
        type: 'sigstoreSigned',
        fulcio: { caPath: 'big.gpg', oidcIssuer: 'https://issuer.example', subjectEmail: 'a@example.com' },
        rekorPublicKeyData: Buffer.from('k').toString('base64'),
      },
    ],
  ])('refuses a key file over 1 MiB (%s) with SIZE_EXCEEDED naming the file', async (_, req) => {
    const err = await refusal(load({ default: [{ type: 'reject' }], transports: { docker: { 'reg.io': [req] } } }));
    expect(err.code).toBe('SIZE_EXCEEDED');
    expect(err.message).toContain(join(dir, 'big.gpg'));
    expect(err.message).toMatch(/1048576-byte limit/);
  });

  it.skipIf(process.platform === 'win32')('an endless key file (/dev/zero) ends at the bound', async () => {
    const err = await refusal(load({ default: [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: '/dev/zero' }] }));
    expect(err.code).toBe('SIZE_EXCEEDED');
    expect(err.message).toContain('/dev/zero');
  });

  it('refuses a policy.json over 4 MiB before parsing it, with SIZE_EXCEEDED naming the file', async () => {
    const p = join(dir, 'huge-policy.json');
    // a valid policy (a 4 MiB keyData): only its size is wrong
    const keyData = 'A'.repeat(4 * 1024 * 1024);
    await writeFile(
      p,
      JSON.stringify({
        default: [{ type: 'reject' }],
        transports: { docker: { 'reg.io': [{ type: 'signedBy', keyType: 'GPGKeys', keyData }] } },
      })
    );
    const err = await refusal(loadContainersPolicy(p));
    expect(err.code).toBe('SIZE_EXCEEDED');
    expect(err.message).toContain(p);
    expect(err.message).toMatch(/4194304-byte limit/);
  });

  it('still reads a key file within the bound, and names a missing one', async () => {
    const p = await load({
      default: [{ type: 'reject' }],
      transports: { docker: { 'reg.io': [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: 'small.gpg' }] } },
    });
    expect(p.docker.get('reg.io')).toHaveLength(1);
    const err = await refusal(load({ default: [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: 'missing.gpg' }] }));
    expect(err.code).toBe('CONTAINERS_POLICY_INVALID');
    expect(err.message).toMatch(/cannot read key missing\.gpg/);
  });
});
