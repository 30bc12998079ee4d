import { createRequire } from 'node:module';

type Re2js = typeof import('re2js');
let re2js: Re2js | undefined;

/**
 * A matcher for `re` anchored at both ends (the whole string must match), run by re2js: linear
 * time whatever the pattern, as cosign's Go RE2 — user-supplied identity patterns cannot
 * backtrack. re2js (~190 kB) is required on first use, so a verification without a regular
 * expression in its policy never loads it. Throws re2js's error for an invalid expression.
 */
export function anchoredRegExp(re: string): (s: string) => boolean {
  re2js ??= createRequire(import.meta.url)('re2js') as Re2js;
  const p = re2js.RE2JS.compile(`^(?:${re})$`);
  return (s) => p.matcher(s).matches();
}
