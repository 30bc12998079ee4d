import { createHash, type KeyObject } from 'node:crypto';
import { cosignVerify, parseCosignPayload } from '../../signature/index.ts';
import type { CosignCandidate } from '../discover.ts';
import { check, verdictOf, type Check, type Verdict } from '../report.ts';

export interface CosignVerdict {
  verdict: Verdict;
  checks: Check[];
  /** The signed repository the payload names. */
  dockerReference?: string;
  keyId?: string;
}

function spkiId(key: KeyObject): string {
  return `sha256:${createHash('sha256')
    .update(key.export({ type: 'spki', format: 'der' }))
    .digest('hex')}`;
}

/**
 * A cosign key-based signature (simple-signing payload + base64 signature annotation): the payload
 * parses, names this artifact's digest, is signed by one of `keys`, and names an identity that
 * `identity` accepts (cosign binds the repository, without tag).
 */
export function verifyCosignSignature(args: {
  candidate: CosignCandidate;
  digest: string;
  keys: KeyObject[];
  identity: (dockerReference: string) => { ok: boolean; reason: string };
  requirement: string;
}): CosignVerdict {
  const { candidate: c, requirement: rq } = args;
  const done = (checks: Check[], extra: Partial<CosignVerdict> = {}): CosignVerdict => ({
    verdict: verdictOf(checks),
    checks,
    ...extra,
  });
  if (!c.payload || c.signature === undefined)
    return done([check('integrity', 'fail', c.unreadable ?? 'no payload', rq)]);
  let p;
  try {
    p = parseCosignPayload(c.payload);
  } catch (err) {
    return done([check('integrity', 'fail', (err as Error).message, rq)]);
  }
  const checks: Check[] = [check('integrity', 'pass', undefined, rq)];
  let key: KeyObject | undefined;
  try {
    key = args.keys.find((k) => cosignVerify(c.payload!, c.signature!, k));
  } catch (err) {
    return done([check('integrity', 'fail', (err as Error).message, rq)]);
  }
  if (!key)
    return done([
      ...checks,
      check('authenticity', 'fail', 'the signature does not verify with any of the given public keys', rq),
    ]);
  checks.push(check('authenticity', 'pass', undefined, rq));
  if (p.digest !== args.digest)
    return done([...checks, check('subject', 'fail', `the payload is for ${p.digest}, not ${args.digest}`, rq)]);
  checks.push(check('subject', 'pass', undefined, rq));
  const id = args.identity(p.dockerReference);
  checks.push(check('name-binding', id.ok ? 'pass' : 'fail', id.reason, rq));
  return done(checks, { dockerReference: p.dockerReference, keyId: spkiId(key) });
}
