import { fetchManifest } from '../../store/index.ts';
import type { TrustPolicySigstore, TrustPolicyStatement } from '../../trust/index.ts';
import { SignetError } from '../../util/index.ts';
import type { SigstoreCandidate } from '../discover.ts';
import { verifySigstoreBundle, type SigstorePolicy } from '../families/sigstore.ts';
import { sigstoreRequirement } from '../load.ts';
import { check, type RequirementReport } from '../report.ts';
import type { EvaluationContext, Requirement } from './types.ts';

/**
 * Sigstore bundles (`--key`, `--certificate-identity…`, a trust policy's `sigstore` statement):
 * satisfied by one bundle that verifies for this digest under the policy.
 */
export async function evaluateSigstore(
  req: Extract<Requirement, { kind: 'sigstore' }>,
  ctx: EvaluationContext
): Promise<RequirementReport[]> {
  const name = req.name;
  const cands = ctx.candidates.filter((c): c is SigstoreCandidate => c.family === 'sigstore');
  const by: string[] = [];
  // A message-signature bundle of an image signs its manifest bytes: read once, by digest, when needed.
  let manifest: Uint8Array | undefined;
  for (const c of cands) {
    const isMessage = !!c.bundle && Buffer.from(c.bundle).includes('"messageSignature"');
    if (isMessage && !manifest) manifest = (await fetchManifest(ctx.subject.target, ctx.subject.descriptor)).bytes;
    const v = verifySigstoreBundle({
      bundle: c.bundle,
      ...(c.unreadable ? { unreadable: c.unreadable } : {}),
      digest: ctx.subject.descriptor.digest,
      ...(manifest ? { artifact: manifest } : {}),
      policy: req.policy,
      requirement: name,
    });
    ctx.record(c, {
      verdict: v.verdict,
      checks: v.checks,
      ...(v.signer ? { signer: v.signer } : {}),
      ...(v.keyId ? { keyId: v.keyId } : {}),
    });
    if (v.verdict === 'verified') by.push(c.digest);
  }
  if (by.length) return [{ name, satisfied: true, by, checks: [] }];
  const reason = cands.length
    ? `none of the ${cands.length} Sigstore bundle(s) passed`
    : 'no Sigstore bundle is associated with the artifact';
  return [
    {
      name,
      satisfied: false,
      by,
      checks: [check('threshold', 'fail', `0 of 1 required valid signature(s): ${reason}`, name)],
    },
  ];
}

/** Each statement's keys and trusted root, read once per loaded policy. */
const statementPolicies = new WeakMap<TrustPolicySigstore, Promise<SigstorePolicy>>();

/**
 * A trust policy statement's `sigstore` block, as the requirement `trust-policy:<name>:sigstore`
 * under the statement's scope: the same evaluation as `--key`/`--certificate-identity`. Keys and
 * the trusted root are read as the flags read them; a `trustedRootDigest` must match the root's
 * bytes. A block that cannot be read (a missing key, a root of another digest) fails `policy`.
 */
export async function evaluateStatementSigstore(
  st: TrustPolicyStatement,
  ctx: EvaluationContext
): Promise<RequirementReport[]> {
  const block = st.sigstore!;
  const name = `trust-policy:${st.name}:sigstore`;
  let pending = statementPolicies.get(block);
  if (!pending) {
    pending = sigstoreRequirement({
      keys: block.keys,
      identities: block.identities,
      ...(block.trustedRoot !== undefined ? { trustedRoot: block.trustedRoot } : {}),
      ...(block.trustedRootDigest !== undefined ? { trustedRootDigest: block.trustedRootDigest } : {}),
    }).then((r) => r.policy);
    statementPolicies.set(block, pending);
    pending.catch(() => statementPolicies.delete(block));
  }
  let policy: SigstorePolicy;
  try {
    policy = await pending;
  } catch (err) {
    if (!(err instanceof SignetError) || err.kind === 'inconclusive') throw err;
    return [
      {
        name,
        satisfied: false,
        by: [],
        checks: [check('policy', 'fail', `statement "${st.name}": ${err.message}`, name)],
      },
    ];
  }
  return evaluateSigstore({ kind: 'sigstore', name, policy }, ctx);
}
