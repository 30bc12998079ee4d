import { parseLayoutStatement, parseSimplePayload, verifyOpenPgpMessage } from '../../signature/index.ts';
import { SignetError } from '../../util/index.ts';
import type { LayoutCandidate, SimpleCandidate } from '../discover.ts';
import { check, verdictOf, type Check, type Verdict } from '../report.ts';

export interface OpenPgpVerdict {
  verdict: Verdict;
  checks: Check[];
  /** The OpenPGP fingerprint of the key that signed: the signer, and what thresholds count. */
  fingerprint?: string;
  signingTime?: string;
}

type Opened = { checks: Check[]; data?: Uint8Array; fingerprint?: string };

/** The OpenPGP layer both GPG families share: a signed message by one of the trusted keys. */
async function openMessage(
  message: Uint8Array | undefined,
  unreadable: string | undefined,
  keys: Uint8Array[],
  rq: string
): Promise<Opened> {
  if (!message) return { checks: [check('integrity', 'fail', unreadable ?? 'no signature', rq)] };
  try {
    const { data, fingerprint } = await verifyOpenPgpMessage(message, keys);
    return { checks: [check('authenticity', 'pass', `signed by ${fingerprint}`, rq)], data, fingerprint };
  } catch (err) {
    if (err instanceof SignetError && err.kind !== 'failed') throw err;
    return { checks: [check('authenticity', 'fail', (err as Error).message, rq)] };
  }
}

/**
 * A containers simple signature ("atomic container signature", GPG): signed by one of `keys`,
 * for this manifest digest, with a signed identity the policy's `signedIdentity` accepts.
 */
export async function verifySimpleSignature(args: {
  candidate: SimpleCandidate;
  digest: string;
  keys: Uint8Array[];
  identity: (dockerReference: string) => { ok: boolean; reason: string };
  requirement: string;
}): Promise<OpenPgpVerdict> {
  const rq = args.requirement;
  const o = await openMessage(args.candidate.message, args.candidate.unreadable, args.keys, rq);
  const done = (): OpenPgpVerdict => ({
    verdict: verdictOf(o.checks),
    checks: o.checks,
    ...(o.fingerprint ? { fingerprint: o.fingerprint } : {}),
  });
  if (!o.data) return done();
  let p;
  try {
    p = parseSimplePayload(o.data);
  } catch (err) {
    o.checks.push(check('integrity', 'fail', (err as Error).message, rq));
    return done();
  }
  o.checks.push(check('integrity', 'pass', undefined, rq));
  if (p.dockerManifestDigest !== args.digest) {
    o.checks.push(check('subject', 'fail', `signed digest ${p.dockerManifestDigest} is not ${args.digest}`, rq));
    return done();
  }
  o.checks.push(check('subject', 'pass', undefined, rq));
  const id = args.identity(p.dockerReference);
  o.checks.push(check('name-binding', id.ok ? 'pass' : 'fail', id.reason, rq));
  return done();
}

/**
 * A statically signed layout entry (Flatpak's design, docs/formats.md): a GPG statement binding
 * the ref name to the digest, at a signed time that must not go back (`accept` remembers it).
 */
export async function verifyLayoutSignature(args: {
  candidate: LayoutCandidate;
  digest: string;
  keys: Uint8Array[];
  accept: (fingerprint: string, ref: string, timestamp: number, digest: string) => Promise<void>;
  requirement: string;
}): Promise<OpenPgpVerdict> {
  const { candidate: c, requirement: rq } = args;
  const o = await openMessage(c.signature, c.unreadable, args.keys, rq);
  const out = (extra: Partial<OpenPgpVerdict> = {}): OpenPgpVerdict => ({
    verdict: verdictOf(o.checks),
    checks: o.checks,
    ...(o.fingerprint ? { fingerprint: o.fingerprint } : {}),
    ...extra,
  });
  if (!o.data) return out();
  let st;
  try {
    st = parseLayoutStatement(o.data);
  } catch (err) {
    o.checks.push(check('integrity', 'fail', (err as Error).message, rq));
    return out();
  }
  o.checks.push(check('integrity', 'pass', undefined, rq));
  const signingTime = new Date(st.timestamp * 1000).toISOString();
  if (st.ref !== c.ref) {
    o.checks.push(check('name-binding', 'fail', `the signature is for ref ${st.ref}, not ${c.ref}`, rq));
    return out({ signingTime });
  }
  o.checks.push(check('name-binding', 'pass', `ref ${c.ref}`, rq));
  if (st.digest !== args.digest) {
    o.checks.push(check('subject', 'fail', `the signature is for ${st.digest}, the entry names ${args.digest}`, rq));
    return out({ signingTime });
  }
  o.checks.push(check('subject', 'pass', undefined, rq));
  try {
    await args.accept(o.fingerprint!, c.ref, st.timestamp, args.digest);
    o.checks.push(check('rollback', 'pass', `signed ${signingTime}, not older than what was last accepted`, rq));
  } catch (err) {
    if (!(err instanceof SignetError) || err.kind !== 'failed') throw err;
    o.checks.push(check('rollback', 'fail', err.message, rq));
  }
  return out({ signingTime });
}
