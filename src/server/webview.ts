import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RegistryStorage } from './storage.ts';

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A small read-only HTML view: repositories, their tags, and each tag's referrers. */
export async function renderWebView(
  storage: RegistryStorage,
  req: IncomingMessage,
  res: ServerResponse
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://x');
  const repo = url.searchParams.get('repo');
  let body = '<h1>Signet registry</h1>';
  if (repo) {
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
    const repos = await storage.listRepositories();
    body += `<ul>${repos.map((r) => `<li><a href="/?repo=${encodeURIComponent(r)}">${esc(r)}</a></li>`).join('')}</ul>`;
  }
  const html = `<!doctype html><meta charset="utf-8"><title>Signet registry</title><style>body{font-family:sans-serif;margin:2em}code{color:#555}</style>${body}`;
  res.writeHead(200, {
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
  });
  res.end(html);
}
