import { resolve as resolvePath } from 'node:path';
import { identityMatches, selectStatement, subjectAttributes, type TrustPolicyStatement } from '../../trust/index.ts';
import { SignetError } from '../../util/index.ts';
import type { NotaryCandidate } from '../discover.ts';
import { verifyNotarySignature, type NotaryVerdict } from '../families/notary.ts';
import { check, verdictOf, type Check, type RequirementReport } from '../report.ts';
import { bindingCheck, expectedBinding, rollbackCheck } from './name-binding.ts';
import { freshnessCheck, StatementTuf, trustMaterialThroughTuf } from './freshness.ts';
import { evaluateStatementSigstore } from './sigstore.ts';
import type { EvaluationContext, Requirement } from './types.ts';

type TrustPolicyRequirement = Extract<Requirement, { kind: 'trust-policy' }>;

/** The statement for the artifact: by repository, by `--scope`, or by the layout's path (`oci:` scopes). */
function statementFor(req: TrustPolicyRequirement, ctx: EvaluationContext): TrustPolicyStatement {
  const p = ctx.subject.parsed;
  if (p.kind === 'registry') return selectStatement(req.document, { registryScope: `${p.registry}/${p.repository}` });
  if (ctx.scope) return selectStatement(req.document, { registryScope: ctx.scope });
  const paths = /^https?:\/\//i.test(p.path) ? [p.path] : [p.path, resolvePath(p.path)];
  return selectStatement(req.document, { layoutPaths: paths });
}

/** "2 of 3": valid signatures by distinct keys, and every required identity among them. */
function threshold(
  st: TrustPolicyStatement,
  valid: Array<{ digest: string; v: NotaryVerdict }>,
  found: number,
  rq: string
): Check | undefined {
  const need = st.signatureThreshold ?? 1;
  const required = st.requiredIdentities ?? [];
  if (need === 1 && required.length === 0) return undefined;
  const keys = new Set(valid.map((x) => x.v.keyId));
  const missing = required.filter((id) => !valid.some((x) => identityMatches(id.dn, subjectAttributes(x.v.leaf!))));
  const ok = keys.size >= need && missing.length === 0;
  const parts = [
    `${keys.size} of ${need} required valid signature(s) by distinct signing keys (${found} signature(s) found)`,
  ];
  if (missing.length)
    parts.push(
      `no valid signature by the required identit${missing.length > 1 ? 'ies' : 'y'} ${missing.map((m) => `"${m.raw}"`).join(', ')}`
    );
  // At the audit level a shortfall is logged, as every other check is.
  return check('threshold', ok ? 'pass' : st.level === 'audit' ? 'logged' : 'fail', parts.join('; '), rq);
}

/**
 * The Notary Project trust policy as one requirement: the statement whose scope covers the
 * artifact, its level, and Signet's n-of-m extension (`signatureThreshold`, `requiredIdentities`;
 * notation ignores both fields and verifies any-of).
 */
export async function evaluateTrustPolicy(
  req: TrustPolicyRequirement,
  ctx: EvaluationContext
): Promise<RequirementReport[]> {
  let tuf: StatementTuf | undefined;
  try {
    return await evaluateStatement(req, ctx, (st) => (tuf ??= new StatementTuf(st, ctx)));
  } finally {
    await tuf?.close();
  }
}

/** evaluateTrustPolicy's work; `tufOf` gives the statement's TUF repository, refreshed once (Layers C and B). */
async function evaluateStatement(
  req: TrustPolicyRequirement,
  ctx: EvaluationContext,
  tufOf: (st: TrustPolicyStatement) => StatementTuf
): Promise<RequirementReport[]> {
  let st: TrustPolicyStatement;
  try {
    st = statementFor(req, ctx);
  } catch (err) {
    if (!(err instanceof SignetError) || err.code !== 'NO_APPLICABLE_POLICY') throw err;
    return [{ name: 'trust-policy', satisfied: false, by: [], checks: [check('policy', 'fail', err.message)] }];
  }
  const name = `trust-policy:${st.name}`;
  const report: RequirementReport = { name, satisfied: false, by: [], checks: [] };
  if (st.level === 'skip') {
    report.satisfied = true;
    report.checks.push(check('policy', 'skipped', `policy "${st.name}" skips verification`));
    return [report];
  }
  report.checks.push(check('policy', 'pass', `statement "${st.name}", level ${st.level}`));
  // A `sigstore` block: Sigstore bundles under this statement, by the one Sigstore requirement code;
  // a statement without trust stores requires them alone.
  const sigstore = st.sigstore ? await evaluateStatementSigstore(st, ctx) : [];
  if (st.sigstore && !st.trustStores.length) return sigstore;
  const notary = ctx.candidates.filter((c): c is NotaryCandidate => c.family === 'notary');
  const passed: Array<{ digest: string; v: NotaryVerdict }> = [];
  let inconclusive = false;
  const expected = st.nameBinding ? expectedBinding(st, ctx) : undefined;
  // Layer C: the trust stores reduced to the certificates the statement's TUF repository lists.
  let trustStore = req.trustStore;
  if (st.freshness?.trustStore && notary.length) {
    const m = await trustMaterialThroughTuf(st, req.trustStore, name, tufOf(st));
    report.checks.push(m.check);
    trustStore = m.store;
  }
  for (const c of notary) {
    const v = await verifyNotarySignature({
      candidate: c,
      subject: ctx.subject.descriptor,
      statement: st,
      trustStore,
      options: ctx.verifyOptions,
      requirement: name,
    });
    // Layer A: a signature that passed the Notary checks must also be bound to this name and tag.
    if (expected && v.verdict === 'verified') {
      v.checks.push(bindingCheck(st, expected, v.annotations, name));
      v.verdict = verdictOf(v.checks);
    }
    ctx.record(c, {
      verdict: v.verdict,
      checks: v.checks,
      ...(v.signer ? { signer: v.signer } : {}),
      ...(v.keyId ? { keyId: v.keyId } : {}),
      ...(v.signingTime ? { signingTime: v.signingTime } : {}),
      ...(v.validUntil ? { validUntil: v.validUntil } : {}),
    });
    if (v.verdict === 'verified') passed.push({ digest: c.digest, v });
    if (v.verdict === 'inconclusive') inconclusive = true;
  }
  const t = threshold(
    st,
    passed.filter((x) => x.v.authentic && x.v.leaf),
    notary.length,
    name
  );
  if (t) {
    report.checks.push(t);
    report.satisfied = t.outcome !== 'fail' && passed.length > 0;
    report.by = passed.filter((x) => x.v.authentic || st.level === 'audit').map((x) => x.digest);
  } else {
    report.satisfied = passed.length > 0;
    report.by = passed.map((x) => x.digest);
  }
  if (expected && report.satisfied)
    await rollbackCheck(
      st,
      expected,
      passed.map((x) => x.v.annotations),
      ctx.subject.descriptor.digest,
      ctx,
      report
    );
  // Layer B: the statement's TUF targets must name this digest for the name and tag.
  if (st.freshness && report.satisfied) await freshnessCheck(st, ctx, report, tufOf(st));
  const rolledBack = report.checks.some(
    (c) => (c.name === 'rollback' && c.outcome === 'fail') || (c.name === 'freshness' && c.outcome !== 'pass')
  );
  if (rolledBack) {
    // the rollback or freshness check says why
  } else if (!report.satisfied && !t) {
    const reason = notary.length
      ? `none of the ${notary.length} Notary Project signature(s) passed`
      : 'no Notary Project signature is associated with the artifact';
    report.checks.push(
      check('threshold', inconclusive ? 'inconclusive' : 'fail', `0 of 1 required valid signature(s): ${reason}`, name)
    );
  } else if (!report.satisfied && t?.outcome !== 'fail') {
    report.checks.push(check('threshold', inconclusive ? 'inconclusive' : 'fail', 'no signature passed', name));
  }
  return [report, ...sigstore];
}
