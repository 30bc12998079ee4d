import type { Enforcer } from '../enforcement/types.ts';
import type { RegistryStorage } from '../storage.ts';
import { badge, esc, layout, link, shortDigest } from './html.ts';
import { judge, judgementBadge } from './verdicts.ts';

/** A rendered page and its status. */
export interface Page {
  status: number;
  html: string;
}

/** At most this many tags are listed (and judged) on one page. */
export const MAX_TAGS_SHOWN = 200;

const COSIGN_TAG = /^sha(256|512)-[0-9a-f]+\.(sig|att|sbom)$/;

/** The repositories the caller may pull (already filtered), with their tag counts. */
export async function repositoriesPage(storage: RegistryStorage, visible: string[]): Promise<Page> {
  const items: string[] = [];
  for (const r of visible) {
    const tags = ((await storage.listTags(r)) ?? []).filter((t) => !COSIGN_TAG.test(t));
    items.push(
      `<tr><td>${link('/ui/repo', { name: r }, esc(r))}</td><td class="muted">${tags.length} tag${tags.length === 1 ? '' : 's'}</td></tr>`
    );
  }
  const body = items.length
    ? `<table><thead><tr><th>Repository</th><th>Tags</th></tr></thead><tbody>${items.join('')}</tbody></table>`
    : '<p class="muted">No repositories you may pull.</p>';
  return { status: 200, html: layout('Repositories', [], `<section><h1>Repositories</h1>${body}</section>`) };
}

/** The tags of one repository, each with its digest, type, referrer count and the policy's verdict. */
export async function tagsPage(storage: RegistryStorage, repo: string, enforcer?: Enforcer): Promise<Page | null> {
  const all = await storage.listTags(repo);
  if (all === null) return null;
  const tags = all.filter((t) => !COSIGN_TAG.test(t));
  const sigTags = all.length - tags.length;
  const items: string[] = [];
  for (const tag of tags.slice(0, MAX_TAGS_SHOWN)) {
    const digest = await storage.tagDigest(repo, tag);
    const info = digest ? await storage.manifestInfo(repo, digest) : null;
    if (!digest || !info) {
      items.push(`<tr><td><b>${esc(tag)}</b></td><td colspan="4" class="why">points at no manifest</td></tr>`);
      continue;
    }
    const referrers = (await storage.referrers(repo, digest)).length;
    const verdict = enforcer ? judgementBadge(await judge(enforcer, repo, tag, { ...info, digest })) : '';
    items.push(
      `<tr data-tag="${esc(tag)}"><td>${link('/ui/artifact', { repo, tag }, `<b>${esc(tag)}</b>`)}</td>` +
        `<td>${link('/ui/artifact', { repo, digest }, shortDigest(digest))}</td><td><code>${esc(info.mediaType)}</code></td>` +
        `<td>${referrers}</td>${enforcer ? `<td>${verdict}</td>` : ''}</tr>`
    );
  }
  const head = `<tr><th>Tag</th><th>Digest</th><th>Media type</th><th>Referrers</th>${enforcer ? '<th>Policy</th>' : ''}</tr>`;
  const notes = [
    enforcer ? '' : `<p>${badge('none', 'no policy on this server')}</p>`,
    tags.length > MAX_TAGS_SHOWN ? `<p class="muted">${MAX_TAGS_SHOWN} of ${tags.length} tags shown.</p>` : '',
    sigTags ? `<p class="muted">${sigTags} cosign signature tag(s), shown under the artifacts they sign.</p>` : '',
  ].join('');
  const table = tags.length
    ? `<table><thead>${head}</thead><tbody>${items.join('')}</tbody></table>`
    : '<p class="muted">No tags.</p>';
  const crumbs = [link('/ui/repo', { name: repo }, esc(repo))];
  return { status: 200, html: layout(repo, crumbs, `<section><h1>${esc(repo)}</h1>${notes}${table}</section>`) };
}
