import { Metadata, Root } from '@tufjs/models';
import { KeyStore } from '../../pki/index.ts';
import { SignetError } from '../../util/index.ts';
import { ROLE_NAME_RE } from './bundle.ts';
import { TUF_ROLES, type TufRepoConfig, type TufRole } from './config.ts';
import { checkThreshold } from './repository.ts';
import {
  bytesOf,
  expiresAt,
  rewrite,
  signers,
  signWith,
  type Change,
  type DelegationsJson,
  type Draft,
  type TufRepoOptions,
  type TufWriteResult,
} from './writer.ts';

/**
 * Changing who may sign (docs/freshness.md): `signet tuf rotate` gives a role new keys — for a
 * top-level role a new root version N+1 signed by a threshold of the old root keys AND of the new
 * ones (tuf-spec §5.3.4), so clients pinned to 1.root.json follow the chain; for a delegated role
 * new delegation keys in the top-level targets — and re-signs what the new keys now own.
 * `signet tuf delegate` adds a delegated targets role for a team or a CI job.
 */

export interface TufRotateOptions extends TufRepoOptions {
  /** The role's new keys (Signet key names). */
  keys: string[];
  /** The new threshold (default: the old one, at most the number of new keys). */
  threshold?: number;
}

export interface TufDelegateOptions extends TufRepoOptions {
  /** Target path patterns the role may sign, e.g. `oci:acme/app:*` (`*` stays within a path segment). */
  paths: string[];
  keys: string[];
  threshold?: number;
  /** A terminating role ends the search for a matching path (default true: the role is authoritative for its paths). */
  terminating?: boolean;
}

async function keyJson(opts: TufRepoOptions, names: string[]): Promise<Array<{ id: string; json: unknown }>> {
  const ks = opts.keyStore ?? new KeyStore(opts.home);
  return (await signers(ks, names)).map((k) => ({ id: k.key.keyID, json: k.key.toJSON() }));
}

function unique(keys: string[], what: string): string[] {
  const u = [...new Set(keys)];
  if (!u.length) throw new SignetError('USAGE', `${what} needs at least one --key`);
  return u;
}

/** `signet tuf rotate TUFREF ROLE --key K…`. */
export async function tufRotate(ref: string, role: string, opts: TufRotateOptions): Promise<TufWriteResult> {
  const names = unique(opts.keys, 'tuf rotate');
  const now = opts.now ?? new Date();
  return rewrite(ref, { ...opts, signWith: [] }, async (d) => {
    const config: TufRepoConfig = structuredClone(d.config);
    if ((TUF_ROLES as readonly string[]).includes(role)) {
      const r = role as TufRole;
      const threshold = opts.threshold ?? Math.min(config.thresholds[r], names.length);
      checkThreshold(r, threshold, names.length);
      const fresh = await keyJson(opts, names);
      const json = d.root.signed.toJSON() as {
        version: number;
        expires: string;
        keys: Record<string, unknown>;
        roles: Record<string, { keyids: string[]; threshold: number }>;
      };
      json.version = d.root.signed.version + 1;
      json.expires = expiresAt(now, config.expires.root);
      for (const k of fresh) json.keys[k.id] = k.json;
      json.roles[r] = { keyids: [...new Set(fresh.map((k) => k.id))], threshold };
      const used = new Set(Object.values(json.roles).flatMap((x) => x.keyids));
      for (const id of Object.keys(json.keys)) if (!used.has(id)) delete json.keys[id];
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const md = new Metadata(Root.fromJSON(json as any));
      // §5.3.4: N+1 is signed by a threshold of N's root keys and of its own.
      const ks = opts.keyStore ?? new KeyStore(opts.home);
      const rootSigners = [...new Set([...config.keys.root, ...(r === 'root' ? names : [])])];
      await signWith(md, await signers(ks, rootSigners));
      config.keys[r] = names;
      config.thresholds[r] = threshold;
      const change: Change = { ownRole: r, root: { md, bytes: bytesOf(md) }, config };
      // What the new keys own is signed again with them (a timestamp is signed on every write).
      if (r === 'targets') change.targets = { files: { ...d.targets!.md.signed.targets } };
      if (r === 'snapshot') change.snapshot = true;
      return change;
    }
    const dl = config.delegations?.[role];
    if (!dl)
      throw new SignetError('USAGE', `${ref} has no role ${JSON.stringify(role)} (top-level: ${TUF_ROLES.join(', ')})`);
    const threshold = opts.threshold ?? Math.min(dl.threshold, names.length);
    checkThreshold(role, threshold, names.length);
    config.delegations![role] = { ...dl, keys: names, threshold };
    return {
      ownRole: role,
      targets: {
        files: { ...d.targets!.md.signed.targets },
        delegations: await delegationsWith(d, role, opts, { keys: names, threshold }),
      },
      delegated: new Map([[role, { ...(d.delegated.get(role)?.md.signed.targets ?? {}) }]]),
      config,
    };
  });
}

/** The top-level delegations with `role` set to these keys (and paths, for a new role); unused keys dropped. */
async function delegationsWith(
  d: Draft,
  role: string,
  opts: TufRepoOptions,
  set: { keys: string[]; threshold: number; paths?: string[]; terminating?: boolean }
): Promise<DelegationsJson> {
  const cur = (d.targets!.md.signed.delegations?.toJSON() ?? { keys: {}, roles: [] }) as {
    keys: Record<string, unknown>;
    roles: Array<{ name: string; keyids: string[]; threshold: number; paths?: string[]; terminating: boolean }>;
  };
  const fresh = await keyJson(opts, set.keys);
  for (const k of fresh) cur.keys[k.id] = k.json;
  const keyids = [...new Set(fresh.map((k) => k.id))];
  const i = cur.roles.findIndex((r) => r.name === role);
  if (i >= 0) cur.roles[i] = { ...cur.roles[i]!, keyids, threshold: set.threshold };
  else
    cur.roles.push({
      name: role,
      keyids,
      threshold: set.threshold,
      paths: set.paths ?? [],
      terminating: set.terminating ?? true,
    });
  const used = new Set(cur.roles.flatMap((r) => r.keyids));
  for (const id of Object.keys(cur.keys)) if (!used.has(id)) delete cur.keys[id];
  return cur;
}

/** `signet tuf delegate TUFREF ROLE --paths P… --key K… [--threshold N]`. */
export async function tufDelegate(ref: string, role: string, opts: TufDelegateOptions): Promise<TufWriteResult> {
  if (!ROLE_NAME_RE.test(role) || (TUF_ROLES as readonly string[]).includes(role))
    throw new SignetError(
      'USAGE',
      `${JSON.stringify(role)} is not a delegated role name: lower-case letters, digits, - and _, not ${TUF_ROLES.join('/')}`
    );
  const names = unique(opts.keys, 'tuf delegate');
  if (!opts.paths.length || opts.paths.some((p) => !p.startsWith('oci:')))
    throw new SignetError('USAGE', `tuf delegate needs --paths patterns of release targets, e.g. 'oci:acme/app:*'`);
  const threshold = opts.threshold ?? 1;
  checkThreshold(role, threshold, names.length);
  return rewrite(ref, opts, async (d) => {
    if (d.config.delegations?.[role] || d.targets!.md.signed.delegations?.roles?.[role])
      throw new SignetError('USAGE', `${ref} already delegates to ${role} (signet tuf rotate ${ref} ${role} --key K)`);
    const config: TufRepoConfig = structuredClone(d.config);
    config.delegations = { ...config.delegations, [role]: { keys: names, threshold, paths: opts.paths } };
    return {
      ownRole: 'targets',
      targets: {
        files: { ...d.targets!.md.signed.targets },
        delegations: await delegationsWith(d, role, opts, {
          keys: names,
          threshold,
          paths: opts.paths,
          terminating: opts.terminating ?? true,
        }),
      },
      delegated: new Map([[role, {}]]),
      config,
    };
  });
}
