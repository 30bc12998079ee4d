import { describe, expect, it } from 'vitest';
import { VerdictCache, type VerdictKey } from '../../../src/server/enforcement/verdict-cache.ts';

const key = (over: Partial<VerdictKey> = {}): VerdictKey => ({
  repo: 'team/app',
  reference: 'v1',
  digest: `sha256:${'a'.repeat(64)}`,
  referrers: '0.0',
  policy: '1',
  ...over,
});

describe('the verdict cache', () => {
  it('answers only for the exact key: another referrer set, policy, reference or digest misses', () => {
    const c = new VerdictCache<string>();
    c.set(key(), 'verified', Date.now() + 60_000);
    expect(c.get(key())).toBe('verified');
    expect(c.get(key({ referrers: '0.1' }))).toBeUndefined();
    expect(c.get(key({ policy: '2' }))).toBeUndefined();
    expect(c.get(key({ reference: 'latest' }))).toBeUndefined();
    expect(c.get(key({ digest: `sha256:${'b'.repeat(64)}` }))).toBeUndefined();
    expect(c.hits).toBe(1);
    expect(c.misses).toBe(4);
  });
  it('never answers past the expiry it was given, and never stores what has already expired', () => {
    const c = new VerdictCache<string>();
    const now = Date.now();
    c.set(key(), 'verified', now + 1000);
    expect(c.get(key(), now + 999)).toBe('verified');
    expect(c.get(key(), now + 1000)).toBeUndefined();
    c.set(key({ reference: 'old' }), 'verified', now - 1);
    expect(c.size).toBe(0);
  });
  it('drops every verdict about a subject at once, and stays within its bound (least recently used first)', () => {
    const c = new VerdictCache<string>(3);
    const later = Date.now() + 60_000;
    c.set(key({ reference: 'v1' }), 'a', later);
    c.set(key({ reference: 'latest' }), 'b', later);
    c.dropSubject('team/app', `sha256:${'a'.repeat(64)}`);
    expect(c.size).toBe(0);
    for (const r of ['1', '2', '3']) c.set(key({ reference: r }), r, later);
    expect(c.get(key({ reference: '1' }))).toBe('1'); // now the most recently used
    c.set(key({ reference: '4' }), '4', later);
    expect(c.size).toBe(3);
    expect(c.get(key({ reference: '2' }))).toBeUndefined();
    expect(c.get(key({ reference: '1' }))).toBe('1');
  });
});

describe('a tag judged at a new digest', () => {
  it("forgets the tag's verdicts at other digests (a tag moved back is judged again, rollback included)", () => {
    const c = new VerdictCache<string>();
    const later = Date.now() + 60_000;
    const old = `sha256:${'a'.repeat(64)}`;
    const fresh = `sha256:${'b'.repeat(64)}`;
    c.set(key({ digest: old }), 'verified', later);
    c.set(key({ reference: old, digest: old }), 'verified', later);
    c.dropReferenceExcept('team/app', 'v1', fresh);
    expect(c.get(key({ digest: old }))).toBeUndefined();
    expect(c.get(key({ reference: old, digest: old }))).toBe('verified');
  });
});
