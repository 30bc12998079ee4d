import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import * as z from 'zod';
import { SignetError } from '../../util/index.ts';

/**
 * `sign`: push manifests that carry a `subject` (signatures, SBOMs, attestations) by digest, the
 * blobs they need, and the tags signing tools write for an existing subject (`sha256-<hex>`,
 * `sha256-<hex>.sig`, `.att`); read manifests that do not verify (to sign them). Nothing else.
 */
export type Action = 'pull' | 'push' | 'delete' | 'sign';

/** One access rule: which principals get which actions on which repositories. */
export interface AccessRule {
  /** Exact name, `prefix/*` (anything below prefix), or `*` (every repository). */
  repository: string;
  /** User names, `anonymous` (no credentials) or `*` (any authenticated user). */
  users: string[];
  actions: Action[];
}

export interface AuthConfig {
  /** user name → bcrypt hash */
  users: Map<string, string>;
  access: AccessRule[];
}

const schema = z.strictObject({
  users: z
    .record(
      z.string().regex(/^[A-Za-z0-9._@-]{1,128}$/, 'user names are [A-Za-z0-9._@-]'),
      z.string().regex(/^\$2[aby]\$\d\d\$.{53}$/, 'not a bcrypt hash ($2y$/$2a$/$2b$)')
    )
    .optional(),
  htpasswd: z.string().optional(),
  access: z.array(
    z.strictObject({
      repository: z.string().regex(/^(\*|[a-z0-9._/-]+(\/\*)?)$/, 'a repository name, prefix/*, or *'),
      users: z.array(z.string()).min(1),
      actions: z.array(z.enum(['pull', 'push', 'delete', 'sign', '*'])).min(1),
    })
  ),
});

/** Parses Apache htpasswd lines `user:$2y$...` (bcrypt only: other schemes are refused). */
export function parseHtpasswd(text: string, where = 'htpasswd'): Map<string, string> {
  const users = new Map<string, string>();
  text.split(/\r?\n/).forEach((line, i) => {
    if (!line.trim() || line.startsWith('#')) return;
    const colon = line.indexOf(':');
    const user = line.slice(0, colon);
    const hash = line.slice(colon + 1).trim();
    if (colon <= 0 || !/^\$2[aby]\$\d\d\$.{53}$/.test(hash)) {
      throw new SignetError(
        'AUTH_CONFIG_INVALID',
        `${where}:${i + 1}: want user:<bcrypt hash> (only bcrypt is supported)`
      );
    }
    users.set(user, hash);
  });
  return users;
}

/** Parses the `--auth` JSON document; `baseDir` resolves a relative htpasswd path. */
export function parseAuthConfig(text: string, baseDir = '.'): AuthConfig {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new SignetError('AUTH_CONFIG_INVALID', `auth config is not valid JSON: ${(err as Error).message}`);
  }
  const r = schema.safeParse(json);
  if (!r.success) {
    const msg = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new SignetError('AUTH_CONFIG_INVALID', `auth config: ${msg}`);
  }
  const users = new Map(Object.entries(r.data.users ?? {}));
  if (r.data.htpasswd) {
    const path = resolve(baseDir, r.data.htpasswd);
    let text2: string;
    try {
      text2 = readFileSync(path, 'utf8');
    } catch (err) {
      throw new SignetError(
        'AUTH_CONFIG_INVALID',
        `auth config: cannot read htpasswd ${path}: ${(err as Error).message}`
      );
    }
    for (const [u, h] of parseHtpasswd(text2, path)) users.set(u, h);
  }
  const access = r.data.access.map((a) => ({
    repository: a.repository,
    users: a.users,
    actions: (a.actions.includes('*') ? ['pull', 'push', 'delete', 'sign'] : a.actions) as Action[],
  }));
  for (const a of access) {
    for (const u of a.users) {
      if (u !== 'anonymous' && u !== '*' && !users.has(u))
        throw new SignetError(
          'AUTH_CONFIG_INVALID',
          `auth config: access rule for ${a.repository} names unknown user ${u}`
        );
    }
  }
  return { users, access };
}

export function loadAuthConfig(file: string): AuthConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new SignetError('AUTH_CONFIG_INVALID', `cannot read auth config ${file}: ${(err as Error).message}`);
  }
  return parseAuthConfig(text, dirname(file));
}

function repoMatches(pattern: string, name: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('/*')) return name.startsWith(pattern.slice(0, -1));
  return pattern === name;
}

/** The actions a principal (user name, or null for anonymous) has on a repository. */
export function grantedActions(config: AuthConfig, user: string | null, repository: string): Set<Action> {
  const out = new Set<Action>();
  for (const rule of config.access) {
    if (!repoMatches(rule.repository, repository)) continue;
    const applies =
      user === null ? rule.users.includes('anonymous') : rule.users.includes(user) || rule.users.includes('*');
    if (applies) for (const a of rule.actions) out.add(a);
  }
  return out;
}
