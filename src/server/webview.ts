import type { IncomingMessage, ServerResponse } from 'node:http';
import { isValidRepositoryName } from '../oci/index.ts';
import type { Authorizer } from './auth/types.ts';
import type { Enforcer } from './enforcement/types.ts';
import type { RegistryStorage } from './storage.ts';

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  const html = `<!doctype html><meta charset="utf-8"><title>Signet registry</title><style>body{font-family:sans-serif;margin:2em}code{color:#555}</style>${body}`;
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
    'x-content-type-options': 'nosniff',
    ...headers,
  });
  res.end(html);
}

/** May this request pull `repo`? Without an authorizer, everyone may (as the API). */
async function mayPull(authorizer: Authorizer | undefined, req: IncomingMessage, repo: string): Promise<boolean> {
  if (!authorizer) return true;
  return (await authorizer.check(req, [{ type: 'repository', name: repo, actions: ['pull'] }])).ok;
}

/**
 * A small read-only HTML view: repositories, their tags, and each tag's referrers. It answers to
 * the same authorization as the API: a user sees only repositories they may pull, and a browser
 * without credentials gets a Basic challenge. A repository name is checked against the grammar
 * before it comes near the store (no `../`).
 */
export async function renderWebView(
  storage: RegistryStorage,
  req: IncomingMessage,
  res: ServerResponse,
  authorizer?: Authorizer,
  _enforcer?: Enforcer
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://x');
  const repo = url.searchParams.get('repo');
  const challenge = { 'WWW-Authenticate': 'Basic realm="signet registry", charset="UTF-8"' };
  const refuse = (): void =>
    req.headers.authorization
      ? send(res, 403, '<h1>Not allowed</h1>')
      : send(res, 401, '<h1>Sign in to see this registry</h1>', challenge);
  let body = '<h1>Signet registry</h1>';
  if (repo !== null) {
    if (!isValidRepositoryName(repo)) return send(res, 400, '<h1>Not a repository name</h1>');
    if (!(await mayPull(authorizer, req, repo))) return refuse();
    const tags = (await storage.listTags(repo)) ?? [];
    body += `<h2>${esc(repo)}</h2><ul>`;
    for (const t of tags) {
      const d = await storage.tagDigest(repo, t);
      const refs = d ? await storage.referrers(repo, d) : [];
      body += `<li><b>${esc(t)}</b> <code>${esc(d ?? '?')}</code>`;
      if (refs.length)
        body += `<ul>${refs.map((r) => `<li>${esc(r.artifactType ?? r.mediaType)} <code>${esc(r.digest)}</code></li>`).join('')}</ul>`;
      body += '</li>';
    }
    body += '</ul><p><a href="/">all repositories</a></p>';
  } else {
    const visible: string[] = [];
    for (const r of await storage.listRepositories()) if (await mayPull(authorizer, req, r)) visible.push(r);
    if (authorizer && visible.length === 0 && !req.headers.authorization) return refuse();
    body += `<ul>${visible.map((r) => `<li><a href="/?repo=${encodeURIComponent(r)}">${esc(r)}</a></li>`).join('')}</ul>`;
  }
  send(res, 200, body);
}
