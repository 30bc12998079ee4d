import { SignetError } from '../../index.ts';

/** Reads a secret from standard input (one line). */
export async function readSecret(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

/** Parses repeated `k=v` options. */
export function keyValues(list: string[], what: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of list) {
    const i = kv.indexOf('=');
    if (i <= 0) throw new SignetError('USAGE', `${what} takes key=value, got ${JSON.stringify(kv)}`);
    out[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return out;
}

export const collect = (v: string, prev: string[]): string[] => [...prev, v];

/** Parses `90d`, `12h`, `30m`, `45s` or plain seconds. */
export function parseDuration(s: string): number {
  const m = /^(\d+)([smhd]?)$/.exec(s.trim());
  if (!m || Number(m[1]) <= 0)
    throw new SignetError('USAGE', `invalid duration ${JSON.stringify(s)}: want e.g. 30d, 12h, 45m, 90s`);
  return Number(m[1]) * ({ '': 1, s: 1, m: 60, h: 3600, d: 86400 } as Record<string, number>)[m[2]!]!;
}
