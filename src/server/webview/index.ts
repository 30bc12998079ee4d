import type { IncomingMessage, ServerResponse } from 'node:http';
import { isValidDigest, isValidRepositoryName, isValidTag } from '../../oci/index.ts';
import type { Authorizer } from '../auth/types.ts';
import type { Enforcer } from '../enforcement/types.ts';
import type { RegistryStorage } from '../storage.ts';
import { artifactPage } from './artifact.ts';
import { envelopePage } from './envelope-page.ts';
import { messagePage, send } from './html.ts';
import { repositoriesPage, tagsPage, type Page } from './repositories.ts';

/** The repositories page asks the authorizer about at most this many names. */
const MAX_REPOSITORIES = 1000;
const CHALLENGE = { 'WWW-Authenticate': 'Basic realm="signet registry", charset="UTF-8"' };

/** May this request pull `repo`? Without an authorizer, everyone may (as the API). */
async function mayPull(authorizer: Authorizer | undefined, req: IncomingMessage, repo: string): Promise<boolean> {
  if (!authorizer) return true;
  return (await authorizer.check(req, [{ type: 'repository', name: repo, actions: ['pull'] }])).ok;
}

class Refusal {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly message: string
  ) {}
}

/** The query parameter `name`, checked by `valid` before anything else sees it (else 400). */
function param(q: URLSearchParams, name: string, valid: (v: string) => boolean, what: string): string {
  const v = q.get(name);
  if (v === null || !valid(v)) throw new Refusal(400, 'Bad request', `${name} is not ${what}`);
  return v;
}
const optional = (q: URLSearchParams, name: string, valid: (v: string) => boolean, what: string): string | undefined =>
  q.has(name) ? param(q, name, valid, what) : undefined;

/**
 * The registry's read-only HTML view: `/` (repositories; `/?repo=NAME` is the tags page too),
 * `/ui/repo?name=`, `/ui/artifact?repo=&digest=|tag=`, `/ui/envelope?repo=&digest=`. It answers
 * to the same authorization as the API: a user sees only repositories they may pull, and a
 * browser without credentials gets a Basic challenge. Names, tags and digests are checked against
 * their grammars before they come near the store (no `../`); every value is escaped, and a strict
 * Content-Security-Policy allows no script at all.
 */
export async function renderWebView(
  storage: RegistryStorage,
  req: IncomingMessage,
  res: ServerResponse,
  authorizer?: Authorizer,
  enforcer?: Enforcer
): Promise<void> {
  const [path = '/', query = ''] = (req.url ?? '/').split('?', 2);
  const q = new URLSearchParams(query);
  const repoParam = (name: string): string => param(q, name, isValidRepositoryName, 'a repository name');
  const digestParam = (): string => param(q, 'digest', isValidDigest, 'a digest');
  const refused = (): Refusal =>
    req.headers.authorization
      ? new Refusal(403, 'Not allowed', 'These credentials may not pull this repository.')
      : new Refusal(401, 'Sign in to see this registry', 'This registry needs credentials.');
  const pullable = async (repo: string): Promise<string> => {
    if (!(await mayPull(authorizer, req, repo))) throw refused();
    return repo;
  };
  const found = (p: Page | null): Page => {
    if (!p) throw new Refusal(404, 'Not found', 'No such repository or manifest here.');
    return p;
  };

  let page: Page;
  try {
    if (path === '/' && q.has('repo'))
      page = found(await tagsPage(storage, await pullable(repoParam('repo')), enforcer));
    else if (path === '/') {
      const visible: string[] = [];
      for (const r of (await storage.listRepositories()).slice(0, MAX_REPOSITORIES)) {
        const may = authorizer
          ? await authorizer.check(req, [{ type: 'repository', name: r, actions: ['pull'] }])
          : null;
        if (!may || may.ok) visible.push(r);
        else if (may.status === 401 && req.headers.authorization) break; // wrong credentials: no need to ask again
      }
      if (authorizer && visible.length === 0 && !req.headers.authorization) throw refused();
      page = await repositoriesPage(storage, visible);
    } else if (path === '/ui/repo') page = found(await tagsPage(storage, await pullable(repoParam('name')), enforcer));
    else if (path === '/ui/artifact') {
      const repo = repoParam('repo');
      const tag = optional(q, 'tag', isValidTag, 'a tag');
      const digest = tag === undefined ? digestParam() : undefined;
      await pullable(repo);
      const resolved = digest ?? (await storage.tagDigest(repo, tag!));
      page = found(resolved ? await artifactPage(storage, repo, resolved, tag, enforcer) : null);
    } else if (path === '/ui/envelope') {
      const repo = repoParam('repo');
      const digest = digestParam();
      page = found(await envelopePage(storage, await pullable(repo), digest));
    } else throw new Refusal(404, 'Not found', 'No such page.');
  } catch (err) {
    const r = err instanceof Refusal ? err : new Refusal(500, 'Error', (err as Error).message);
    return send(res, r.status, messagePage(r.title, r.message), r.status === 401 ? CHALLENGE : {});
  }
  send(res, page.status, page.html);
}
