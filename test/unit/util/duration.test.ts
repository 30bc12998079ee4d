import { describe, expect, it } from 'vitest';
import { parseDuration } from '../../../src/util/index.ts';

const HOUR = 3600_000;

describe('durations (flags such as --grace, --upload-ttl, --verdict-ttl, --expiry)', () => {
  it('accept 30s, 15m, 1h, 2d, sums, 0 and plain seconds; anything else is a usage error', () => {
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('15m')).toBe(900_000);
    expect(parseDuration('1h')).toBe(HOUR);
    expect(parseDuration('2d')).toBe(48 * HOUR);
    expect(parseDuration('1h30m')).toBe(90 * 60_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('0')).toBe(0);
    expect(parseDuration('90')).toBe(90_000);
    for (const bad of ['', 'h', '1y', '-1h', '1.5h', '1 h', 'soon', '9'.repeat(30)])
      expect(() => parseDuration(bad), bad).toThrow(expect.objectContaining({ code: 'USAGE' }));
  });
});
