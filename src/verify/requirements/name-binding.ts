import { resolve as resolvePath } from 'node:path';
import { readBinding } from '../../signature/index.ts';
import { mappedName, type TrustPolicyStatement } from '../../trust/index.ts';
import { check, type Check, type RequirementReport } from '../report.ts';
import type { EvaluationContext } from './types.ts';

/**
 * Layer A of freshness (docs/freshness.md) under a trust policy statement with `nameBinding`:
 * which logical name and tag the artifact is verified as, each signature's `name-binding` check,
 * and the requirement's `rollback` check against this client's high-water mark.
 */

export interface Expected {
  /** The logical name, or undefined for a layout with no `--name` and no `names` entry. */
  name?: string;
  /** The tag when verifying by tag. */
  tag?: string;
  /** Where the name came from, for the reasons. */
  from: string;
}

/**
 * The logical name: `--name`, else the statement's `names` mapping of the location, else the
 * repository path (registries and `--scope`). Never anything the layout itself says.
 */
export function expectedBinding(st: TrustPolicyStatement, ctx: EvaluationContext): Expected {
  const p = ctx.subject.parsed;
  const tag = p.tag && !p.digest ? p.tag : undefined;
  const out = (name: string | undefined, from: string): Expected => ({
    ...(name ? { name } : {}),
    ...(tag ? { tag } : {}),
    from,
  });
  if (ctx.name) return out(ctx.name, '--name');
  if (p.kind === 'registry') {
    const location = `${p.registry}/${p.repository}`;
    const mapped = mappedName(st, [location]);
    return mapped ? out(mapped, `names mapping of ${location}`) : out(p.repository, `repository ${location}`);
  }
  const paths = /^https?:\/\//i.test(p.path) ? [p.path] : [p.path, resolvePath(p.path)];
  const mapped = mappedName(
    st,
    paths.map((x) => `oci:${x}`)
  );
  if (mapped) return out(mapped, `names mapping of oci:${p.path}`);
  if (ctx.scope) {
    const m = mappedName(st, [ctx.scope]);
    return m ? out(m, `names mapping of ${ctx.scope}`) : out(ctx.scope.slice(ctx.scope.indexOf('/') + 1), '--scope');
  }
  return out(undefined, 'layout');
}

/** One verified signature's binding: a failure refuses it (strict), a missing binding is logged (compat). */
export function bindingCheck(
  st: TrustPolicyStatement,
  expected: Expected,
  annotations: Record<string, string> | undefined,
  rq: string
): Check {
  const strict = st.nameBinding === 'strict';
  const missing = (why: string): Check =>
    check(
      'name-binding',
      strict ? 'fail' : 'logged',
      strict ? why : `${why}: accepted with no rollback protection (nameBinding compat)`,
      rq
    );
  if (!expected.name)
    return missing(
      `a layout has no repository name: give --name NAME or a names entry "oci:<path glob>" in statement "${st.name}"`
    );
  const b = readBinding(annotations);
  if (!b) return missing('the signature carries no name binding (dev.signet.name)');
  // A binding that names something else is evidence of a swap: refused in either mode.
  if (b.name !== expected.name)
    return check('name-binding', 'fail', `signed for the name ${b.name}, not ${expected.name} (${expected.from})`, rq);
  if (expected.tag) {
    if (!b.tag) return missing(`signed for ${b.name} without a tag (dev.signet.tag), verified as tag ${expected.tag}`);
    if (b.tag !== expected.tag)
      return check('name-binding', 'fail', `signed for the tag ${b.tag}, not ${expected.tag}`, rq);
    if (b.seq === undefined) return missing(`signed for ${b.name}:${b.tag} without a sequence (dev.signet.seq)`);
    return check('name-binding', 'pass', `signed for ${b.name}:${b.tag} (seq ${b.seq})`, rq);
  }
  return check('name-binding', 'pass', `signed for ${b.name}`, rq);
}

/**
 * The tag's rollback check: the highest seq among the accepted signatures bound to this name and
 * tag, against the mark. The mark is raised (under its lock, judged again) only once the whole
 * verification passed, through `ctx.onVerified`.
 */
export async function rollbackCheck(
  st: TrustPolicyStatement,
  expected: Expected,
  accepted: Array<Record<string, string> | undefined>,
  digest: string,
  ctx: EvaluationContext,
  report: RequirementReport
): Promise<void> {
  if (!expected.tag || !expected.name) return;
  const rq = report.name;
  let best: { seq: number; issued?: string } | undefined;
  for (const a of accepted) {
    const b = readBinding(a);
    if (b?.name !== expected.name || b.tag !== expected.tag || b.seq === undefined) continue;
    if (!best || b.seq > best.seq) best = { seq: b.seq, ...(b.issued ? { issued: b.issued } : {}) };
  }
  if (!best) {
    report.checks.push(
      check(
        'rollback',
        st.nameBinding === 'strict' ? 'fail' : 'logged',
        `no accepted signature carries a sequence for ${expected.name}:${expected.tag}: no rollback protection`,
        rq
      )
    );
    return;
  }
  // freshness/ (and TUF with it) loads only for a statement with nameBinding and a tag
  const { TagState } = await import('../../freshness/index.ts');
  const state = ctx.tagState ?? new TagState();
  const mark = { scope: st.name, name: expected.name, tag: expected.tag, seq: best.seq, digest };
  const j = TagState.judge(await state.read(mark.scope, mark.name, mark.tag), best.seq, digest);
  const c = check('rollback', 'pass', `${expected.name}:${expected.tag} ${j.reason}`, rq);
  if (!j.ok) {
    c.outcome = ctx.allowDowngrade ? 'logged' : 'fail';
    if (ctx.allowDowngrade) c.reason += ' (accepted: --allow-downgrade; the mark is not lowered)';
    else c.reason += ' (refused; --allow-downgrade accepts it)';
  }
  report.checks.push(c);
  if (c.outcome === 'fail') {
    report.satisfied = false;
    return;
  }
  ctx.onVerified?.(async () => {
    const again = await state.advance(
      { ...mark, ...(best.issued ? { issued: best.issued } : {}) },
      { allowDowngrade: Boolean(ctx.allowDowngrade) }
    );
    if (!again.ok) {
      // Another verification raised the mark meanwhile: judged again under the lock.
      c.outcome = 'fail';
      c.reason = `${expected.name}:${expected.tag} ${again.reason} (refused; --allow-downgrade accepts it)`;
      report.satisfied = false;
    }
  });
}
