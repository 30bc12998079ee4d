import { parseCosignPublicKey } from '../../signature/index.ts';
import { FreshnessState } from '../../freshness/index.ts';
import { containersIdentityMatches, requirementsFor } from '../../trust/index.ts';
import type { RegistryReference } from '../../oci/index.ts';
import type { CosignCandidate, LayoutCandidate, SimpleCandidate } from '../discover.ts';
import { verifyCosignSignature } from '../families/cosign.ts';
import { verifyLayoutSignature, verifySimpleSignature } from '../families/openpgp.ts';
import { check, type RequirementReport } from '../report.ts';
import type { EvaluationContext, Requirement } from './types.ts';

// A policy is loaded once and used for every artifact (a webhook): parse each key once, not per verification.
const parsedKeys = new WeakMap<Uint8Array, ReturnType<typeof parseCosignPublicKey>>();
function cosignKey(bytes: Uint8Array): ReturnType<typeof parseCosignPublicKey> {
  let k = parsedKeys.get(bytes);
  if (!k) parsedKeys.set(bytes, (k = parseCosignPublicKey(bytes)));
  return k;
}

type Identity = (dockerReference: string) => { ok: boolean; reason: string };

/** The repository a signature's identity is judged against: the registry one, or a layout's `--scope`. */
function dockerName(ctx: EvaluationContext): RegistryReference | undefined {
  const p = ctx.subject.parsed;
  if (p.kind === 'registry') return p;
  if (!ctx.scope) return undefined;
  const slash = ctx.scope.indexOf('/');
  return {
    kind: 'registry',
    registry: ctx.scope.slice(0, slash),
    repository: ctx.scope.slice(slash + 1),
    ...(p.tag ? { tag: p.tag } : {}),
    ...(p.digest ? { digest: p.digest } : {}),
  };
}

function satisfiedBy(name: string, by: string[], found: number, family: string): RequirementReport {
  if (by.length) return { name, satisfied: true, by, checks: [] };
  const reason = found
    ? `none of the ${found} ${family} signature(s) passed`
    : `no ${family} signature is associated with the artifact`;
  return {
    name,
    satisfied: false,
    by,
    checks: [check('threshold', 'fail', `0 of 1 required valid signature(s): ${reason}`, name)],
  };
}

async function cosignBy(
  ctx: EvaluationContext,
  name: string,
  keys: ReturnType<typeof parseCosignPublicKey>[],
  identity: Identity
): Promise<RequirementReport> {
  const cands = ctx.candidates.filter((c): c is CosignCandidate => c.family === 'cosign');
  const by: string[] = [];
  for (const c of cands) {
    const v = verifyCosignSignature({
      candidate: c,
      digest: ctx.subject.descriptor.digest,
      keys,
      identity,
      requirement: name,
    });
    ctx.record(c, { verdict: v.verdict, checks: v.checks, ...(v.keyId ? { keyId: v.keyId, signer: v.keyId } : {}) });
    if (v.verdict === 'verified') by.push(c.digest);
  }
  return satisfiedBy(name, by, cands.length, 'cosign');
}

async function simpleBy(
  ctx: EvaluationContext,
  name: string,
  keys: Uint8Array[],
  identity: Identity
): Promise<RequirementReport> {
  const cands = ctx.candidates.filter((c): c is SimpleCandidate => c.family === 'simple');
  const by: string[] = [];
  for (const c of cands) {
    const v = await verifySimpleSignature({
      candidate: c,
      digest: ctx.subject.descriptor.digest,
      keys,
      identity,
      requirement: name,
    });
    ctx.record(c, {
      verdict: v.verdict,
      checks: v.checks,
      ...(v.fingerprint ? { keyId: v.fingerprint, signer: v.fingerprint } : {}),
    });
    if (v.verdict === 'verified') by.push(c.digest);
  }
  return satisfiedBy(name, by, cands.length, 'simple (GPG)');
}

/** `--cosign-key`: a cosign signature by one of the keys, naming this repository (or `identity`). */
export async function evaluateCosignKey(
  req: Extract<Requirement, { kind: 'cosign-key' }>,
  ctx: EvaluationContext
): Promise<RequirementReport[]> {
  const p = ctx.subject.parsed;
  const expected =
    req.identity === false
      ? undefined
      : (req.identity ?? (p.kind === 'registry' ? `${p.registry}/${p.repository}` : (ctx.scope ?? p.path)));
  const identity: Identity = (ref) =>
    expected === undefined || ref === expected
      ? { ok: true, reason: `signed for ${ref}` }
      : { ok: false, reason: `the payload names ${ref}, not ${expected}` };
  return [await cosignBy(ctx, 'cosign-key', req.keys, identity)];
}

/** `--layout-key`: the layout's index.json entry is signed by one of the keys, and not rolled back. */
export async function evaluateLayoutKey(
  req: Extract<Requirement, { kind: 'layout-key' }>,
  ctx: EvaluationContext
): Promise<RequirementReport[]> {
  const name = 'layout-key';
  const state = req.state ?? new FreshnessState();
  const cands = ctx.candidates.filter((c): c is LayoutCandidate => c.family === 'layout');
  const by: string[] = [];
  for (const c of cands) {
    const v = await verifyLayoutSignature({
      candidate: c,
      digest: ctx.subject.descriptor.digest,
      keys: req.keys,
      accept: (f, r, t, d) => state.accept(f, r, t, d),
      requirement: name,
    });
    ctx.record(c, {
      verdict: v.verdict,
      checks: v.checks,
      ...(v.fingerprint ? { keyId: v.fingerprint, signer: v.fingerprint } : {}),
      ...(v.signingTime ? { signingTime: v.signingTime } : {}),
    });
    if (v.verdict === 'verified') by.push(c.digest);
  }
  if (ctx.subject.parsed.kind !== 'layout') {
    return [
      {
        name,
        satisfied: false,
        by,
        checks: [
          check(
            'policy',
            'fail',
            'statically signed layouts are verified in OCI layouts (oci:DIR, oci:FILE.tar, oci:https://…)',
            name
          ),
        ],
      },
    ];
  }
  return [satisfiedBy(name, by, cands.length, 'layout (org.flatpak.signature-digest)')];
}

/**
 * A containers policy.json: the most specific scope's requirements, each one a requirement of
 * its own (all must pass, as containers/image enforces them).
 */
export async function evaluateContainersPolicy(
  req: Extract<Requirement, { kind: 'containers-policy' }>,
  ctx: EvaluationContext
): Promise<RequirementReport[]> {
  const ref = dockerName(ctx);
  if (!ref) {
    return [
      {
        name: 'containers-policy',
        satisfied: false,
        by: [],
        checks: [
          check(
            'policy',
            'fail',
            'a containers policy names registry repositories: verify a layout with --scope REGISTRY/REPOSITORY'
          ),
        ],
      },
    ];
  }
  const { scope, requirements } = requirementsFor(req.policy, ref);
  const out: RequirementReport[] = [];
  for (const [i, r] of requirements.entries()) {
    const name = `containers-policy:${scope}[${i}] ${r.type}`;
    if (r.type === 'insecureAcceptAnything')
      out.push({
        name,
        satisfied: true,
        by: [],
        checks: [check('policy', 'pass', 'accepted without checks (insecureAcceptAnything)')],
      });
    else if (r.type === 'reject')
      out.push({
        name,
        satisfied: false,
        by: [],
        checks: [check('policy', 'fail', `rejected by the policy (scope ${scope})`)],
      });
    else {
      const identity: Identity = (signed) =>
        containersIdentityMatches(r.signedIdentity, ref, signed)
          ? { ok: true, reason: `signed identity ${signed} (${r.signedIdentity.type})` }
          : {
              ok: false,
              reason: `signed identity ${signed} does not match ${ref.registry}/${ref.repository} (${r.signedIdentity.type})`,
            };
      if (r.type === 'signedBy') out.push(await simpleBy(ctx, name, r.keys, identity));
      else out.push(await cosignBy(ctx, name, r.keys.map(cosignKey), identity));
    }
  }
  return out;
}
