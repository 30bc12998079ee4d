// One row of the issue-12 table: the measured value, its peer measured in the same run, the ratio
// and the goal. Every section that measures one calls row(); `npm run bench -- --json FILE`
// writes them all (with the Node version) at the end.

export interface BenchRow {
  name: string;
  value: number;
  unit: string;
  peer?: { name: string; value: number };
  /** value ÷ peer (or value itself when there is no peer) */
  ratio?: number;
  /** the goal as text, e.g. "<= 2.5x" */
  goal: string;
  /** whether the goal is met; undefined when it cannot be judged from this row */
  met?: boolean;
  node: string;
}

export const rows: BenchRow[] = [];

/**
 * Records and prints a row. `goal` compares `ratio` when there is a peer (unless `on: 'value'`),
 * else `value`: `{ max: 2.5 }` means ≤ 2.5, `{ min: 1 }` means ≥ 1.
 */
export function row(
  name: string,
  value: number,
  unit: string,
  peer: { name: string; value: number } | undefined,
  goal: { max?: number; min?: number; text?: string; on?: 'value' | 'ratio' },
  node = process.version
): BenchRow {
  const ratio = peer ? value / peer.value : undefined;
  const onValue = goal.on === 'value' || ratio === undefined;
  const judged = onValue ? value : ratio;
  const met = goal.max !== undefined ? judged <= goal.max : goal.min !== undefined ? judged >= goal.min : undefined;
  const goalText =
    goal.text ??
    (goal.max !== undefined ? `<= ${goal.max}` : goal.min !== undefined ? `>= ${goal.min}` : '-') +
      (onValue ? ` ${unit}` : 'x');
  const r: BenchRow = { name, value, unit, goal: goalText, node, ...(peer ? { peer, ratio } : {}) };
  if (met !== undefined) r.met = met;
  rows.push(r);
  const fmt = (v: number): string => (v >= 100 ? v.toFixed(0) : v.toFixed(2));
  console.log(
    `${name}: ${fmt(value)} ${unit}` +
      (peer ? `, ${peer.name} ${fmt(peer.value)} ${unit}, ratio ${ratio!.toFixed(2)}x` : '') +
      `, goal ${goalText}${met === undefined ? '' : met ? ' (met)' : ' (NOT met)'} [node ${node}]`
  );
  return r;
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
