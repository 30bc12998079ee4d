import { refreshTuf, targetPath, type TrustedTuf } from '../../freshness/index.ts';
import { openTarget } from '../../store/index.ts';
import type { TrustPolicyStatement } from '../../trust/index.ts';
import { parseDuration, SignetError } from '../../util/index.ts';
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
  try {
    const opened = await openTarget(f.tuf);
    try {
      if (!opened.reference || opened.parsed.digest)
        throw new SignetError('POLICY_INVALID', `freshness.tuf ${f.tuf} names no tag`);
      const trusted = await refreshTuf(opened.target, opened.reference, f.root, {
        ...(ctx.verifyOptions.now ? { now: ctx.verifyOptions.now } : {}),
        // by digest, every delegated role is read (the release may be in any of them)
        loadAllDelegated: !expected.tag,
        ...(ctx.offline
          ? { offline: f.offlineGrace !== undefined ? { grace: parseDuration(f.offlineGrace) } : {} }
          : {}),
      });
      const [outcome, reason] = await judge(trusted, expected.name, expected.tag, d, f.tuf);
      const stale = trusted.stale.length ? ` — offline, accepted stale: ${trusted.stale.join('; ')}` : '';
      return out(outcome, `${reason}${outcome === 'pass' ? stale : ''}`);
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
}

/** The current release for the name (and tag) against the resolved digest; lazily walks delegations (§5.6.7). */
async function judge(
  trusted: TrustedTuf,
  name: string,
  tag: string | undefined,
  d: { digest: string; size: number },
  where: string
): Promise<['pass' | 'fail', string]> {
  const hex = d.digest.replace(/^sha256:/, '');
  const versions = `targets version ${trusted.targets.signed.version}, timestamp version ${trusted.timestamp.signed.version} (expires ${trusted.timestamp.signed.expires})`;
  if (tag) {
    const path = targetPath(name, tag);
    const found = await trusted.findTarget(path);
    if (!found)
      return ['fail', `${path} is not a current release in ${where} (${versions}): withdrawn, or never published`];
    const t = found.target;
    const by = found.role === 'targets' ? '' : ` (delegated role ${found.role})`;
    if (t.hashes.sha256 !== hex || t.length !== d.size)
      return [
        'fail',
        `the tag names ${d.digest}, but ${where} names sha256:${t.hashes.sha256} for ${path}${by} (${versions}): the tag was rolled back or swapped`,
      ];
    return ['pass', `${path} is ${d.digest} in ${where}${by} (${versions})`];
  }
  // By digest: some current release of this name must be that digest, as its authoritative role says.
  const prefix = `oci:${name}:`;
  const candidates = [trusted.targets, ...[...trusted.delegated.values()].map((x) => x.md)]
    .flatMap((md) => Object.values(md.signed.targets))
    .filter((t) => t.path.startsWith(prefix) && t.hashes.sha256 === hex && t.length === d.size);
  for (const c of candidates) {
    const found = await trusted.findTarget(c.path);
    if (found && found.target.hashes.sha256 === hex && found.target.length === d.size)
      return ['pass', `${d.digest} is ${c.path} in ${where} (${versions})`];
  }
  return ['fail', `${d.digest} is no current release of ${name} in ${where} (${versions})`];
}
