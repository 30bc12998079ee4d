import { artifactTypeOf, isImageIndex, type Descriptor, type Manifest } from '../../oci/index.ts';
import type { SignatureReport, VerificationReport } from '../../verify/index.ts';
import type { Enforcer } from '../enforcement/types.ts';
import type { RegistryStorage } from '../storage.ts';
import { badge, esc, layout, link, rows, shortDigest } from './html.ts';
import { readManifest } from './read.ts';
import type { Page } from './repositories.ts';
import { isSignature, referrerTree, type TreeNode } from './tree.ts';
import { decidingCheck, judge, judgementBlock, signatureLine, signaturesOf, type Judgement } from './verdicts.ts';

const MAX_ROWS = 50;
const KIND_TEXT: Record<TreeNode['kind'], string> = {
  notary: 'notary signature',
  cosign: 'cosign signature',
  simple: 'simple signature',
  sigstore: 'Sigstore bundle',
  sbom: 'SBOM',
  attestation: 'attestation',
  artifact: 'artifact',
};

function annotationRows(a: Record<string, string> | undefined): string {
  const entries = Object.entries(a ?? {});
  if (!entries.length) return '<span class="muted">none</span>';
  return `<table class="kv">${entries.map(([k, v]) => `<tr><th><code>${esc(k)}</code></th><td>${esc(v)}</td></tr>`).join('')}</table>`;
}

function descriptorSection(repo: string, d: Descriptor, m: Manifest, tag: string | undefined): string {
  const r: Array<[string, string]> = [
    ['media type', `<code>${esc(d.mediaType)}</code>`],
    ['digest', `<code>${esc(d.digest)}</code>`],
    ['size', `${d.size} bytes`],
    ['artifact type', `<code>${esc(artifactTypeOf(m) ?? '—')}</code>`],
  ];
  if (tag) r.push(['tag', `<b>${esc(tag)}</b>`]);
  if (m.subject)
    r.push(['subject', link('/ui/artifact', { repo, digest: m.subject.digest }, shortDigest(m.subject.digest))]);
  r.push(['annotations', annotationRows(m.annotations)]);
  return `<section><h2>Descriptor</h2>${rows(r)}</section>`;
}

function contentSection(repo: string, m: Manifest): string {
  const cell = (d: Descriptor): string =>
    `<td>${shortDigest(d.digest)}</td><td><code>${esc(d.mediaType)}</code></td><td>${d.size}</td>`;
  if (isImageIndex(m)) {
    const items = m.manifests.slice(0, MAX_ROWS).map((d) => {
      const p = d.platform;
      const platform = p ? [p.os, p.architecture, p.variant].filter(Boolean).join('/') : '—';
      return `<tr><td>${link('/ui/artifact', { repo, digest: d.digest }, esc(platform))}</td>${cell(d)}</tr>`;
    });
    return `<section><h2>Platforms (${m.manifests.length})</h2><table><thead><tr><th>Platform</th><th>Digest</th><th>Media type</th><th>Size</th></tr></thead><tbody>${items.join('')}</tbody></table></section>`;
  }
  const layers = m.layers.slice(0, MAX_ROWS).map((d, i) => `<tr><td>layer ${i}</td>${cell(d)}</tr>`);
  return `<section><h2>Content</h2><table><thead><tr><th></th><th>Digest</th><th>Media type</th><th>Size</th></tr></thead><tbody><tr><td>config</td>${cell(m.config)}</tr>${layers.join('')}</tbody></table></section>`;
}

/** The policy's view of the page's artifact: its report, and what a signature it did not judge says (markup). */
interface Judged {
  report: VerificationReport | undefined;
  unjudged: string;
  policy: boolean;
}

const muted = (text: string): string => `<span class="muted">${esc(text)}</span>`;

function nodeHtml(repo: string, n: TreeNode, j: Judged, top: boolean): string {
  const d = n.descriptor;
  const head = [
    badge(n.kind, KIND_TEXT[n.kind]),
    link('/ui/artifact', { repo, digest: d.digest }, shortDigest(d.digest)),
    `<code>${esc(d.artifactType ?? d.mediaType)}</code>`,
    n.via !== 'referrer' ? `<span class="muted">via ${esc(n.via)}</span>` : '',
    isSignature(n.kind) ? link('/ui/envelope', { repo, digest: d.digest }, 'decoded envelope') : '',
    d.annotations?.['org.opencontainers.image.created']
      ? `<span class="muted">created ${esc(d.annotations['org.opencontainers.image.created'])}</span>`
      : '',
  ];
  let sigs = '';
  if (n.error) sigs = `<div class="why">unreadable: ${esc(n.error)}</div>`;
  else if (isSignature(n.kind)) {
    const judged = top ? signaturesOf(n, j.report) : [];
    const note =
      top || !j.policy
        ? j.unjudged
        : muted('signs a referrer: the policy judges the signatures of the artifact itself');
    sigs = judged.length
      ? judged.map((s) => signatureLine(s, d.digest)).join('')
      : `<div class="sig">${badge(n.kind, n.kind)} ${note}</div>`;
  }
  const children = n.children.length ? `<ul>${n.children.map((c) => nodeHtml(repo, c, j, false)).join('')}</ul>` : '';
  return `<li data-kind="${esc(n.kind)}" data-digest="${esc(d.digest)}"><div class="node">${head.filter(Boolean).join(' ')}</div>${sigs}${children}</li>`;
}

/** Signatures the trust engine found outside the referrers graph (a lookaside, a layout). */
function elsewhere(report: VerificationReport, nodes: TreeNode[]): SignatureReport[] {
  const inTree = new Set(nodes.flatMap((n) => [n.descriptor.digest, ...n.layers.map((l) => l.digest)]));
  return report.signatures.filter((s) => !inTree.has(s.digest));
}

function requirementsSection(report: VerificationReport): string {
  const items = report.requirements.map((q) => {
    const c = decidingCheck(q.checks);
    return `<tr><td><code>${esc(q.name)}</code></td><td>${badge(q.satisfied ? 'verified' : 'failed', q.satisfied ? 'satisfied' : 'not satisfied')}</td><td>${c ? esc(`${c.name}: ${c.reason ?? c.outcome}`) : ''}</td></tr>`;
  });
  const own = report.checks
    .filter((c) => c.outcome === 'fail' || c.outcome === 'inconclusive')
    .map(
      (c) =>
        `<tr><td>artifact</td><td>${badge('failed', c.outcome)}</td><td>${esc(`${c.name}: ${c.reason ?? ''}`)}</td></tr>`
    );
  if (!items.length && !own.length) return '';
  return `<section><h2>Requirements</h2><table><thead><tr><th>Requirement</th><th>State</th><th>Deciding check</th></tr></thead><tbody>${[...own, ...items].join('')}</tbody></table></section>`;
}

/** One artifact: the policy verdict, its descriptor, platforms or content, and its referrers as a tree. */
export async function artifactPage(
  storage: RegistryStorage,
  repo: string,
  digest: string,
  tag: string | undefined,
  enforcer?: Enforcer
): Promise<Page | null> {
  const stored = await readManifest(storage, repo, digest);
  if (!stored) return null;
  const { descriptor, manifest } = stored;
  const judgement: Judgement | undefined = enforcer
    ? await judge(enforcer, repo, tag ?? digest, descriptor)
    : undefined;
  const report = judgement && 'verdict' in judgement ? judgement.verdict.report : undefined;
  const tree = await referrerTree(storage, repo, digest);
  let unjudged = badge('none', 'no policy on this server');
  // Not in the report: the policy reads no signature of this family (discovery does not look
  // for it), or more signatures are beside the artifact than a verification reads.
  if (report)
    unjudged = `${badge('unevaluated', 'unevaluated')} ${muted('no requirement of the policy read this signature')}`;
  else if (judgement && 'verdict' in judgement && judgement.verdict.outcome === 'exempt')
    unjudged = muted('not judged: this artifact is a referrer, exempt from the policy');
  else if (judgement) unjudged = muted('not judged');
  const top = tree.nodes.map((n) => nodeHtml(repo, n, { report, unjudged, policy: Boolean(enforcer) }, true));
  const extra = report ? elsewhere(report, tree.nodes) : [];
  const referrers =
    `<section><h2>Referrers</h2>` +
    (top.length
      ? `<ul class="tree">${top.join('')}</ul>`
      : '<p class="muted">No referrers: no signature, no SBOM.</p>') +
    (tree.truncated ? '<p class="muted">More referrers exist than this page shows.</p>' : '') +
    (extra.length ? `<h2>Signatures found elsewhere</h2>${extra.map((s) => signatureLine(s)).join('')}` : '') +
    `</section>`;
  const title = tag ? `${repo}:${tag}` : `${repo}@${digest}`;
  const crumbs = [link('/ui/repo', { name: repo }, esc(repo)), esc(tag ?? `${digest.slice(0, 19)}…`)];
  const body =
    `<section><h1>${esc(title)}</h1>${judgementBlock(judgement)}</section>` +
    descriptorSection(repo, descriptor, manifest, tag) +
    contentSection(repo, manifest) +
    referrers +
    (report ? requirementsSection(report) : '');
  return { status: 200, html: layout(title, crumbs, body) };
}
