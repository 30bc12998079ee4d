import { fetchManifest } from '../../store/index.ts';
import type { SigstoreCandidate } from '../discover.ts';
import { verifySigstoreBundle } from '../families/sigstore.ts';
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
