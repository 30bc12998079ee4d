import { describe, expect, it } from 'vitest';
import { Targets } from '@tufjs/models';
import { isDelegatedPath, matchesPathPattern, MAX_PATH_PATTERN } from '../../../src/freshness/tuf/paths.ts';
import { SignetError } from '../../../src/util/index.ts';

/** A delegated role as the models read it (they export no DelegatedRole). */
const role = (paths: string[]) =>
  Targets.fromJSON({
    _type: 'targets',
    spec_version: '1.0.31',
    version: 1,
    expires: '2030-01-01T00:00:00Z',
    targets: {},
    delegations: { keys: {}, roles: [{ name: 'r', keyids: ['k'], threshold: 1, terminating: true, paths }] },
  }).delegations!.roles!.r!;

describe('TUF delegated path patterns (issue 13: no minimatch on signed patterns)', () => {
  it('agrees with the models on the patterns Signet writes and their usual variants', () => {
    const patterns = [
      'oci:acme/app:*',
      'oci:acme/*',
      'oci:acme/app:1.?',
      'oci:acme/app:[0-9]*',
      'oci:acme/app:[!a-z]*',
      'x509:*',
    ];
    const paths = [
      'oci:acme/app:1',
      'oci:acme/app:1.4',
      'oci:acme/app:latest',
      'oci:acme/other:1',
      'oci:acme/app/sub:1',
      'oci:team/app:1',
      'x509:notary/abc',
    ];
    for (const p of patterns)
      for (const t of paths) expect(isDelegatedPath(role([p]), t), `${p} ~ ${t}`).toBe(role([p]).isDelegatedPath(t));
  });

  it('keeps `*` within a segment and treats braces as literal (fnmatch)', () => {
    expect(matchesPathPattern('oci:acme/*', 'oci:acme/app:1')).toBe(true);
    expect(matchesPathPattern('oci:*', 'oci:acme/app:1')).toBe(false);
    expect(matchesPathPattern('oci:acme/{a,b}', 'oci:acme/a')).toBe(false);
    expect(matchesPathPattern('oci:acme/{a,b}', 'oci:acme/{a,b}')).toBe(true);
    expect(matchesPathPattern('oci:acme/\\*', 'oci:acme/*')).toBe(true);
    expect(matchesPathPattern('oci:acme/\\*', 'oci:acme/x')).toBe(false);
    expect(matchesPathPattern('oci:acme/[ab', 'oci:acme/[ab')).toBe(true);
  });

  it('answers hostile patterns in bounded time: backtracking, brace explosion, a pattern over 64 KiB', () => {
    const tag = `oci:team/app:${'a'.repeat(120)}`;
    const t0 = performance.now();
    expect(matchesPathPattern(`oci:team/${'*a'.repeat(40)}*c`, tag)).toBe(false);
    expect(matchesPathPattern(`oci:team/${'{a,b}'.repeat(24)}`, tag)).toBe(false);
    expect(matchesPathPattern(`oci:team/${'*a'.repeat(100)}`, tag)).toBe(true);
    expect(performance.now() - t0).toBeLessThan(1000);
    const long = `oci:team/${'x'.repeat(70_000)}`;
    expect(() => matchesPathPattern(long, tag)).toThrow(SignetError);
    expect(() => matchesPathPattern(long, tag)).toThrow(new RegExp(`at most ${MAX_PATH_PATTERN}`));
  });
});
