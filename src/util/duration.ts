import { SignetError } from './errors.ts';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3600_000, d: 86_400_000 };

/**
 * A duration flag in milliseconds: `30s`, `15m`, `1h`, `90d`, sums such as `1h30m`, `0`, or a
 * plain number of seconds. A coded USAGE error names the flag's value otherwise.
 */
export function parseDuration(text: string): number {
  const t = text.trim();
  if (/^\d+$/.test(t)) return checked(Number(t) * 1000, text);
  if (!/^(?:\d+(?:ms|s|m|h|d))+$/.test(t)) {
    throw new SignetError(
      'USAGE',
      `invalid duration ${JSON.stringify(text)}: give a number and a unit (ms, s, m, h, d), e.g. 30s, 15m, 1h, 2d`
    );
  }
  let ms = 0;
  for (const [, n, unit] of t.matchAll(/(\d+)(ms|s|m|h|d)/g)) ms += Number(n) * UNITS[unit!]!;
  return checked(ms, text);
}

function checked(ms: number, text: string): number {
  if (!Number.isSafeInteger(ms)) throw new SignetError('USAGE', `duration ${JSON.stringify(text)} is too long`);
  return ms;
}
