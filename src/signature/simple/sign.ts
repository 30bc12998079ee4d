import { mkdir, readdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SIGNET_VERSION, SignetError, writeFileAtomic } from '../../util/index.ts';
import { lookasideUrl } from './lookaside.ts';
import { SIMPLE_SIGNING_TYPE } from './simple.ts';

/** The simple-signing payload containers/image writes (critical + optional creator/timestamp). */
export function buildSimplePayload(dockerReference: string, digest: string, now = new Date()): Uint8Array {
  return Buffer.from(
    JSON.stringify({
      critical: {
        identity: { 'docker-reference': dockerReference },
        image: { 'docker-manifest-digest': digest },
        type: SIMPLE_SIGNING_TYPE,
      },
      optional: { creator: `signet ${SIGNET_VERSION}`, timestamp: Math.floor(now.getTime() / 1000) },
    })
  );
}

/** An OpenPGP signed message (one-pass signature, literal data, signature) over the payload. */
export async function signOpenPgp(
  payload: Uint8Array,
  armoredPrivateKey: string,
  passphrase?: string
): Promise<Uint8Array> {
  const openpgp = await import('openpgp');
  let key = await openpgp.readPrivateKey({ armoredKey: armoredPrivateKey });
  if (!key.isDecrypted()) {
    if (!passphrase) throw new SignetError('KEY_INVALID', 'the OpenPGP key is encrypted: give its passphrase');
    key = await openpgp.decryptKey({ privateKey: key, passphrase });
  }
  const message = await openpgp.createMessage({ binary: payload });
  return (await openpgp.sign({ message, signingKeys: key, format: 'binary' })) as Uint8Array;
}

/** Writes a signature as the next free `signature-N` of a file:// lookaside, atomically. */
export async function writeLookaside(
  base: string,
  repository: string,
  digest: string,
  signature: Uint8Array
): Promise<string> {
  if (!base.startsWith('file://'))
    throw new SignetError('CONFIG_INVALID', `can only write to a file:// lookaside, not ${base}`);
  const dir = dirname(fileURLToPath(lookasideUrl(base, repository, digest, 1)));
  await mkdir(dir, { recursive: true });
  const taken = new Set(await readdir(dir));
  let n = 1;
  for (;;) {
    while (taken.has(`signature-${n}`)) n++;
    const path = fileURLToPath(lookasideUrl(base, repository, digest, n));
    try {
      // Never replaces: a concurrent writer that took signature-N first keeps it, this one moves on.
      await writeFileAtomic(path, signature, { noReplace: true });
      return path;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      taken.add(`signature-${n}`);
    }
  }
}
