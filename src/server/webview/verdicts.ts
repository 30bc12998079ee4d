import type { Descriptor } from '../../oci/index.ts';
import type { Check, SignatureReport, VerificationReport } from '../../verify/index.ts';
import type { EnforcementVerdict, Enforcer } from '../enforcement/types.ts';
import { badge, esc, shortDigest } from './html.ts';
import type { TreeNode } from './tree.ts';

export type Judgement = { verdict: EnforcementVerdict } | { error: string };

const OUTCOME_TEXT: Record<EnforcementVerdict['outcome'], string> = {
  verified: 'verified',
  'verified-by-index': 'verified by its index',
  exempt: 'exempt (a referrer)',
  unsigned: 'unsigned',
  failed: 'failed',
  inconclusive: 'inconclusive',
};

/** The server's policy verdict on one manifest requested as `reference`; an error is shown, not thrown. */
export async function judge(
  enforcer: Enforcer,
  repo: string,
  reference: string,
  manifest: Descriptor
): Promise<Judgement> {
  try {
    return {
      verdict: await enforcer.verdict(repo, reference, {
        digest: manifest.digest,
        mediaType: manifest.mediaType,
        size: manifest.size,
      }),
    };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

/** A verdict badge (its message in the title), or `no policy on this server` without an enforcer. */
export function judgementBadge(j: Judgement | undefined): string {
  if (!j) return badge('none', 'no policy on this server');
  if ('error' in j) return badge('error', 'error', j.error);
  return badge(j.verdict.outcome, OUTCOME_TEXT[j.verdict.outcome], j.verdict.message || undefined);
}

/** The badge and, for a refusal, the reason in words. */
export function judgementBlock(j: Judgement | undefined): string {
  let why = '';
  if (j && 'error' in j) why = j.error;
  else if (j && j.verdict.outcome !== 'verified' && j.verdict.message) why = j.verdict.message;
  const cls = j && 'verdict' in j && j.verdict.allowed ? 'muted' : 'why';
  return `<div class="verdict">${judgementBadge(j)}${why ? ` <span class="${cls}">${esc(why)}</span>` : ''}</div>`;
}

/** The check that decided against a signature: the first failure, else the first undecided one. */
export function decidingCheck(checks: readonly Check[]): Check | undefined {
  return checks.find((c) => c.outcome === 'fail') ?? checks.find((c) => c.outcome === 'inconclusive');
}

/** The report's signatures a referrer node holds: its manifest (Notary) or one of its layers (cosign, simple). */
export function signaturesOf(node: TreeNode, report: VerificationReport | undefined): SignatureReport[] {
  if (!report) return [];
  const names = new Set([node.descriptor.digest, ...node.layers.map((l) => l.digest)]);
  return report.signatures.filter((s) => names.has(s.digest));
}

/**
 * One signature as the trust engine judged it: family, signer, signing time, verdict and why; its
 * digest when it names something other than the tree node it sits under (a cosign layer).
 */
export function signatureLine(s: SignatureReport, nodeDigest?: string): string {
  const c = decidingCheck(s.checks);
  const parts = [
    badge(s.family, s.family),
    s.signer ? `<span>signed by <b>${esc(s.signer)}</b></span>` : '<span class="muted">signer not established</span>',
    s.signingTime ? `<span>at <time>${esc(s.signingTime)}</time></span>` : '',
    badge(s.verdict, s.verdict),
    c ? `<span class="why" data-check="${esc(c.name)}">${esc(c.name)}: ${esc(c.reason ?? c.outcome)}</span>` : '',
    s.digest !== nodeDigest
      ? `<span class="muted">${nodeDigest ? 'layer' : esc(s.source)}</span> ${shortDigest(s.digest)}`
      : '',
  ];
  return `<div class="sig v-${esc(s.verdict)}" data-family="${esc(s.family)}">${parts.filter(Boolean).join(' ')}</div>`;
}
