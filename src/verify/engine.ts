import { formatReference, isImageIndex, parseRegistryReference, type Reference } from '../oci/index.ts';
import type { RegistriesD } from '../signature/index.ts';
import { fetchManifest, openTarget, resolveOpened, type OpenOptions } from '../store/index.ts';
import type { TagState } from '../freshness/index.ts';
import type { VerifyOptions } from '../trust/index.ts';
import { SignetError } from '../util/index.ts';
import { discoverSignatures, type Candidate, type ResolvedSubject } from './discover.ts';
import { check, overallVerdict, REPORT_VERSION, type SignatureReport, type VerificationReport } from './report.ts';
import { evaluateTrustPolicy } from './requirements/trust-policy.ts';
import { evaluateSigstore } from './requirements/sigstore.ts';
import { evaluateContainersPolicy, evaluateCosignKey, evaluateLayoutKey } from './requirements/signature-keys.ts';
import type { EvaluationContext, Requirement, SignatureJudgement } from './requirements/types.ts';

export interface VerifyArtifactOptions extends Omit<VerifyOptions, 'userMetadata'> {
  /** Metadata every accepted Notary Project signature must carry (`-m k=v`). */
  userMetadata?: Record<string, string>;
  /** containers registries.d: where simple signatures live beside a registry (lookaside). */
  registriesD?: RegistriesD;
  /** Signatures read at most per artifact (bounded work on hostile stores). Default 50. */
  maxSignatures?: number;
  /** Verify a layout as this repository (`registry/repository`), as notation's `--scope`. */
  scope?: string;
  /**
   * An image index listing this artifact: when the artifact itself does not verify, the index is
   * resolved once, must list this very digest in its bytes, and is verified by that digest.
   */
  coveringIndex?: string;
  /** Accept an artifact whose only valid signatures are on `coveringIndex`. */
  acceptIndexSignature?: boolean;
  open?: OpenOptions;
  /** No network but the artifact's own store: an http(s) lookaside is not read. */
  offline?: boolean;
  /** Layer A (docs/freshness.md): the logical name to verify as (`--name`), over the policy's `names`. */
  name?: string;
  /** Layer A: accept a tag whose release is older than the one last accepted (`--allow-downgrade`). */
  allowDowngrade?: boolean;
  /** Layer A: the tag high-water marks (default `$SIGNET_HOME/state/tags`). */
  tagState?: TagState;
}

/** An artifact already resolved (the registry server, a covering index): nothing is resolved again. */
export interface ResolvedArtifact {
  subject: ResolvedSubject;
}

function pinned(parsed: Reference, digest: string): string {
  return formatReference({ ...parsed, tag: undefined, digest } as Reference);
}

/** The signature families some requirement reads: discovery skips the places only the others use. */
export function familiesRead(requirements: Requirement[]): Set<Candidate['family']> {
  const out = new Set<Candidate['family']>();
  for (const r of requirements) {
    if (r.kind === 'trust-policy') {
      out.add('notary');
      if (r.document.statements.some((st) => st.sigstore)) out.add('sigstore');
    } else if (r.kind === 'containers-policy') ['simple', 'cosign', 'sigstore'].forEach((f) => out.add(f as never));
    else if (r.kind === 'cosign-key') out.add('cosign');
    else if (r.kind === 'layout-key') out.add('layout');
    else out.add('sigstore');
  }
  return out;
}

async function evaluate(
  subject: ResolvedSubject,
  requirements: Requirement[],
  options: VerifyArtifactOptions,
  /** Record state (rollback marks) when the report verifies; a covering index's own verdict does not. */
  commit = true
): Promise<VerificationReport> {
  const d = subject.descriptor;
  const report: VerificationReport = {
    version: REPORT_VERSION,
    reference: pinned(subject.parsed, d.digest),
    digest: d.digest,
    mediaType: d.mediaType,
    size: d.size,
    verdict: 'failed',
    checks: [],
    signatures: [],
    requirements: [],
  };
  const candidates = await discoverSignatures(subject, {
    families: familiesRead(requirements),
    maxSignatures: options.maxSignatures ?? 50,
    offline: Boolean(options.offline),
    ...(options.registriesD ? { registriesD: options.registriesD } : {}),
  });
  const entries = new Map<Candidate, SignatureReport>();
  const enter = (c: Candidate): void => {
    const s: SignatureReport = {
      family: c.family,
      digest: c.digest,
      source: c.source,
      verdict: 'unevaluated',
      checks: [],
    };
    if ((c.family === 'notary' || c.family === 'sigstore') && c.mediaType) s.mediaType = c.mediaType;
    entries.set(c, s);
    report.signatures.push(s);
  };
  for (const c of candidates) enter(c);
  // Sigstore bundles a statement says live in another repository (cosign's COSIGN_REPOSITORY):
  // that repository's referrers of this same digest, read once per verification.
  const elsewhere = new Map<string, Promise<Candidate[]>>();
  const openedElsewhere: Array<{ close(): Promise<void> }> = [];
  const candidatesIn = (repository: string): Promise<Candidate[]> => {
    let found = elsewhere.get(repository);
    if (!found) {
      found = (async () => {
        const o = await openTarget(repository, options.open);
        openedElsewhere.push(o.target);
        const all = await discoverSignatures(
          { target: o.target, parsed: o.parsed, descriptor: d },
          {
            maxSignatures: options.maxSignatures ?? 50,
            offline: Boolean(options.offline),
            families: new Set(['sigstore']), // only bundles are read there: no .sig lookup
          }
        );
        const bundles = all
          .filter((c) => c.family === 'sigstore')
          .map((c) => ({ ...c, source: `${c.source} in ${repository}` }) as Candidate);
        bundles.forEach(enter);
        return bundles;
      })();
      elsewhere.set(repository, found);
    }
    return found;
  };
  const record = (c: Candidate, j: SignatureJudgement): void => {
    const s = entries.get(c)!;
    s.checks.push(...j.checks);
    for (const k of ['signer', 'keyId', 'signingTime'] as const) if (j[k] && !s[k]) s[k] = j[k];
    const until = earliest(s.validUntil, j.validUntil);
    if (until) s.validUntil = until;
    // Verified under any requirement is verified; else the worst judgement stands.
    if (s.verdict === 'verified' || j.verdict === 'verified') s.verdict = 'verified';
    else if (s.verdict === 'unevaluated' || j.verdict === 'failed') s.verdict = j.verdict;
  };
  const {
    registriesD: _r,
    maxSignatures: _m,
    scope,
    coveringIndex: _c,
    acceptIndexSignature: _a,
    open: _o,
    offline: _f,
    name,
    allowDowngrade,
    tagState,
    ...verifyOptions
  } = options;
  const onVerified: Array<() => Promise<void>> = [];
  const ctx: EvaluationContext = {
    subject,
    candidates,
    verifyOptions,
    record,
    ...(scope ? { scope } : {}),
    ...(name ? { name } : {}),
    ...(allowDowngrade ? { allowDowngrade } : {}),
    ...(tagState ? { tagState } : {}),
    ...(options.offline ? { offline: true } : {}),
    candidatesIn,
    ...(commit ? { onVerified: (f: () => Promise<void>) => onVerified.push(f) } : {}),
  };
  try {
    for (const r of requirements) {
      if (r.kind === 'trust-policy') report.requirements.push(...(await evaluateTrustPolicy(r, ctx)));
      else if (r.kind === 'containers-policy') report.requirements.push(...(await evaluateContainersPolicy(r, ctx)));
      else if (r.kind === 'cosign-key') report.requirements.push(...(await evaluateCosignKey(r, ctx)));
      else if (r.kind === 'sigstore') report.requirements.push(...(await evaluateSigstore(r, ctx)));
      else report.requirements.push(...(await evaluateLayoutKey(r, ctx)));
    }
  } finally {
    await Promise.all(openedElsewhere.map((t) => t.close()));
  }
  if (!requirements.length)
    report.checks.push(check('policy', 'fail', 'no requirement is configured: a verification never passes by default'));
  report.verdict = overallVerdict(report);
  // State that may only move when everything passed (Layer A marks), judged again under its lock.
  if (report.verdict === 'verified' && onVerified.length) {
    for (const f of onVerified) await f();
    report.verdict = overallVerdict(report);
  }
  for (const s of report.signatures) report.validUntil = earliest(report.validUntil, s.validUntil);
  if (!report.validUntil) delete report.validUntil;
  return report;
}

/** The earlier of two ISO times, either of which may be absent. */
function earliest(a: string | undefined, b: string | undefined): string | undefined {
  if (!a) return b;
  if (!b) return a;
  return Date.parse(a) <= Date.parse(b) ? a : b;
}

/**
 * A platform manifest covered by a signed index: the index reference is resolved exactly once,
 * its bytes (checked against that digest) must list this manifest, and the index is verified by
 * that same digest — so a tag that moves between two requests cannot lend its signature.
 */
async function coverByIndex(
  report: VerificationReport,
  requirements: Requirement[],
  options: VerifyArtifactOptions
): Promise<void> {
  const opened = await openTarget(options.coveringIndex!, options.open);
  const { target, parsed } = opened;
  try {
    const idx = await resolveOpened(opened, `the covering index ${options.coveringIndex}`);
    const { manifest } = await fetchManifest(target, idx);
    const name = pinned(parsed, idx.digest);
    if (!isImageIndex(manifest) || !manifest.manifests.some((m) => m.digest === report.digest)) {
      report.checks.push(check('subject', 'fail', `the index ${name} does not list ${report.digest}`));
      return;
    }
    const v = await evaluate({ target, parsed, descriptor: idx }, requirements, options, false);
    for (const s of v.signatures) report.signatures.push({ ...s, source: `index ${idx.digest}: ${s.source}` });
    const until = earliest(report.validUntil, v.validUntil);
    if (until) report.validUntil = until;
    if (v.verdict !== 'verified') {
      report.checks.push(
        check(
          'subject',
          'fail',
          `no valid signature of its own, and the index ${name} that lists it does not verify either`
        )
      );
    } else if (!options.acceptIndexSignature) {
      report.checks.push(
        check(
          'subject',
          'fail',
          `no valid signature of its own; it is covered by the signed index ${name} (accept that with --accept-index-signature)`
        )
      );
    } else {
      report.requirements = v.requirements.map((r) => ({ ...r, name: `${r.name} (via index ${idx.digest})` }));
      report.checks.push(
        check('subject', 'pass', `no valid signature of its own; accepted because the signed index ${name} lists it`)
      );
    }
  } finally {
    await target.close();
  }
}

/**
 * THE trust engine. Resolves the reference exactly once, finds every family's signatures in one
 * pass, judges each against every configured requirement, and returns one report. No
 * requirement, no signature, no match: a failure, never a pass. Store or network trouble throws
 * (inconclusive); a responder that cannot be reached makes the report inconclusive.
 */
export async function verifyArtifact(
  artifact: string | ResolvedArtifact,
  requirements: Requirement[],
  options: VerifyArtifactOptions = {}
): Promise<VerificationReport> {
  if (options.scope !== undefined) checkScope(options.scope);
  if (typeof artifact !== 'string') return judge(artifact.subject, requirements, options);
  const opened = await openTarget(artifact, options.open);
  const { target, parsed } = opened;
  try {
    if (options.scope && parsed.kind === 'registry')
      throw new SignetError('USAGE', 'a scope applies to OCI layouts (oci:…); a registry reference is its own scope');
    return await judge({ target, parsed, descriptor: await resolveOpened(opened, artifact) }, requirements, options);
  } finally {
    await target.close();
  }
}

/** The artifact's own verdict, then (when it does not verify) the covering index's. */
async function judge(
  subject: ResolvedSubject,
  requirements: Requirement[],
  options: VerifyArtifactOptions
): Promise<VerificationReport> {
  const report = await evaluate(subject, requirements, options);
  if (report.verdict !== 'verified' && options.coveringIndex) {
    await coverByIndex(report, requirements, options);
    report.verdict = overallVerdict(report);
  }
  return report;
}

/** A scope is a repository name as the registry grammar has it: host[:port]/repository, nothing more. */
function checkScope(scope: string): void {
  let ok = false;
  try {
    const r = parseRegistryReference(scope);
    ok = !r.tag && !r.digest && scope === `${r.registry}/${r.repository}`;
  } catch {
    ok = false;
  }
  if (!ok) throw new SignetError('USAGE', `the scope ${scope} must be REGISTRY/REPOSITORY`);
}
