import { refreshTuf, targetPath, type TrustedTuf } from '../../freshness/index.ts';
import { openTarget } from '../../store/index.ts';
import type { TrustPolicyStatement } from '../../trust/index.ts';
import { SignetError } from '../../util/index.ts';
import { check, type RequirementReport } from '../report.ts';
import { expectedBinding } from './name-binding.ts';
import type { EvaluationContext } from './types.ts';

/**
 * Layer B of freshness (docs/freshness.md) under a statement with `freshness`: the statement's
 * TUF repository is refreshed from its pinned first root through the TUF client workflow (the
 * reference time is the verification's `now`), and the current targets must name the resolved
 * digest for the requested name and tag. One named check, `freshness`, failing closed: no
 * metadata, bad metadata, an expired role, a withdrawn release or another digest all fail it.
 */
export async function freshnessCheck(
  st: TrustPolicyStatement,
  ctx: EvaluationContext,
  report: RequirementReport
): Promise<void> {
  const f = st.freshness!;
  const rq = report.name;
  const d = ctx.subject.descriptor;
  const out = (outcome: 'pass' | 'fail' | 'inconclusive', reason: string): void => {
    report.checks.push(check('freshness', outcome, reason, rq));
    if (outcome !== 'pass') report.satisfied = false;
  };
  const expected = expectedBinding(st, ctx);
  if (!expected.name)
    return out(
      'fail',
      `a layout has no repository name: give --name NAME or a names entry "oci:<path glob>" in statement "${st.name}"`
    );
  let trusted: TrustedTuf;
  try {
    const opened = await openTarget(f.tuf);
    try {
      if (!opened.reference || opened.parsed.digest)
        throw new SignetError('POLICY_INVALID', `freshness.tuf ${f.tuf} names no tag`);
      trusted = await refreshTuf(opened.target, opened.reference, f.root, {
        ...(ctx.verifyOptions.now ? { now: ctx.verifyOptions.now } : {}),
      });
    } finally {
      await opened.target.close();
    }
  } catch (err) {
    const kind = err instanceof SignetError ? err.kind : 'io';
    return out(
      kind === 'inconclusive' || kind === 'io' ? 'inconclusive' : 'fail',
      `TUF metadata ${f.tuf} refused: ${(err as Error).message}`
    );
  }
  const hex = d.digest.replace(/^sha256:/, '');
  const versions = `targets version ${trusted.targets.signed.version}, timestamp version ${trusted.timestamp.signed.version} (expires ${trusted.timestamp.signed.expires})`;
  const targets = trusted.targets.signed.targets;
  if (expected.tag) {
    const path = targetPath(expected.name, expected.tag);
    const t = targets[path];
    if (!t)
      return out('fail', `${path} is not a current release in ${f.tuf} (${versions}): withdrawn, or never published`);
    if (t.hashes.sha256 !== hex || t.length !== d.size)
      return out(
        'fail',
        `the tag names ${d.digest}, but ${f.tuf} names sha256:${t.hashes.sha256} for ${path} (${versions}): the tag was rolled back or swapped`
      );
    return out('pass', `${path} is ${d.digest} in ${f.tuf} (${versions})`);
  }
  // By digest: a current release of this name must be that digest.
  const prefix = `oci:${expected.name}:`;
  const hit = Object.values(targets).find(
    (t) => t.path.startsWith(prefix) && t.hashes.sha256 === hex && t.length === d.size
  );
  if (!hit) return out('fail', `${d.digest} is no current release of ${expected.name} in ${f.tuf} (${versions})`);
  return out('pass', `${d.digest} is ${hit.path} in ${f.tuf} (${versions})`);
}
