import { createHash } from 'node:crypto';
import type { Targets } from '@tufjs/models';
import { SignetError } from '../../util/index.ts';

/**
 * Delegated path patterns (tuf-spec 1.0.34 §4.5 `paths`: shell-style wildcards, fnmatch), matched
 * here in linear-bounded time instead of through the models' `isDelegatedPath`/`rolesForTarget`:
 * those hand every pattern to minimatch, which a role's signer can make backtrack for minutes
 * (`*a*a*a…c` against a long tag), expand exponentially (`{a,b}{a,b}…`) or throw a TypeError
 * (a pattern over 64 KiB). A pattern and a path are split on `/` and must have as many segments
 * (the models' rule: `*` stays within a segment); within a segment `*` is any run of characters,
 * `?` one character, `[…]` one of a set (`[!…]`/`[^…]` negated, `a-z` ranges), `\` escapes the
 * next character; everything else (braces, parentheses) is literal, as in fnmatch.
 */

/** The longest delegated path pattern a targets role may carry (Signet's are `oci:<name>:<tag>` globs). */
export const MAX_PATH_PATTERN = 4096;

type Token = { k: 'star' } | { k: 'one'; test: (c: string) => boolean };

function tokens(segment: string[]): Token[] {
  const out: Token[] = [];
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i]!;
    if (c === '*') {
      if (out.at(-1)?.k !== 'star') out.push({ k: 'star' });
    } else if (c === '?') out.push({ k: 'one', test: () => true });
    else if (c === '\\' && i + 1 < segment.length) {
      const lit = segment[++i]!;
      out.push({ k: 'one', test: (x) => x === lit });
    } else if (c === '[') {
      const cls = charClass(segment, i);
      if (cls) {
        out.push({ k: 'one', test: cls.test });
        i = cls.end;
      } else out.push({ k: 'one', test: (x) => x === '[' }); // no closing `]`: a literal `[`
    } else out.push({ k: 'one', test: (x) => x === c });
  }
  return out;
}

/** `[…]` starting at `start`: its test and the index of its `]`, or undefined when it is not closed. */
function charClass(s: string[], start: number): { test: (c: string) => boolean; end: number } | undefined {
  let i = start + 1;
  const negate = s[i] === '!' || s[i] === '^';
  if (negate) i++;
  const ranges: Array<[number, number]> = [];
  for (let first = true; i < s.length; first = false) {
    if (s[i] === ']' && !first) {
      const test = (c: string): boolean => {
        const cp = c.codePointAt(0)!;
        return ranges.some(([lo, hi]) => cp >= lo && cp <= hi) !== negate;
      };
      return { test, end: i };
    }
    let lo = s[i]!;
    if (lo === '\\' && i + 1 < s.length) lo = s[++i]!;
    if (s[i + 1] === '-' && i + 2 < s.length && s[i + 2] !== ']') {
      let hi = s[i + 2]!;
      i += 2;
      if (hi === '\\' && i + 1 < s.length) hi = s[++i]!;
      ranges.push([lo.codePointAt(0)!, hi.codePointAt(0)!]);
    } else ranges.push([lo.codePointAt(0)!, lo.codePointAt(0)!]);
    i++;
  }
  return undefined;
}

/** One segment: the two-pointer wildcard match (one backtrack point, the last `*`): O(pattern × text) at worst. */
function matchSegment(pattern: Token[], text: string[]): boolean {
  let p = 0;
  let t = 0;
  let star = -1;
  let resume = 0;
  while (t < text.length) {
    const tok = pattern[p];
    if (tok?.k === 'one' && tok.test(text[t]!)) {
      p++;
      t++;
    } else if (tok?.k === 'star') {
      star = p++;
      resume = t;
    } else if (star >= 0) {
      p = star + 1;
      t = ++resume;
    } else return false;
  }
  while (pattern[p]?.k === 'star') p++;
  return p === pattern.length;
}

/** True when `path` matches the delegated path `pattern`; a pattern over MAX_PATH_PATTERN is refused. */
export function matchesPathPattern(pattern: string, path: string): boolean {
  if (pattern.length > MAX_PATH_PATTERN)
    throw new SignetError(
      'VERIFICATION_FAILED',
      `TUF: a delegated path pattern of ${pattern.length} characters (at most ${MAX_PATH_PATTERN})`
    );
  const ps = pattern.split('/');
  const ts = path.split('/');
  if (ps.length !== ts.length) return false;
  return ps.every((seg, i) => matchSegment(tokens([...seg]), [...ts[i]!]));
}

type Delegations = NonNullable<Targets['delegations']>;
type DelegatedRole = NonNullable<Delegations['roles']>[string];

/** The models' `isDelegatedPath` with the matcher above. */
export function isDelegatedPath(role: DelegatedRole, path: string): boolean {
  if (role.paths) return role.paths.some((p) => matchesPathPattern(p, path));
  if (role.pathHashPrefixes) {
    const hash = createHash('sha256').update(path).digest('hex');
    return role.pathHashPrefixes.some((prefix) => hash.startsWith(prefix));
  }
  return false;
}

/** The models' `rolesForTarget` (§5.6.7.2: the roles whose paths cover `path`, in order) with the matcher above. */
export function* rolesForTarget(
  delegations: Delegations | undefined,
  path: string
): Generator<{ role: string; terminating: boolean }> {
  if (!delegations) return;
  if (delegations.roles) {
    for (const role of Object.values(delegations.roles))
      if (isDelegatedPath(role, path)) yield { role: role.name, terminating: role.terminating };
  } else if (delegations.succinctRoles)
    yield { role: delegations.succinctRoles.getRoleForTarget(path), terminating: true };
}
