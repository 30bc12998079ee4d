import type { Check, VerificationReport } from './report.ts';

function checkLine(c: Check): string {
  const why = c.reason ? `: ${c.reason}` : '';
  switch (c.outcome) {
    case 'pass':
      return `${c.name}: pass${c.reason ? ` (${c.reason})` : ''}`;
    case 'fail':
      return `${c.name} check failed${why}`;
    case 'logged':
      return `${c.name} check failed, logged only (policy level)${why}`;
    case 'inconclusive':
      return `${c.name} check inconclusive${why}`;
    case 'skipped':
      return `${c.name}: skipped${why}`;
  }
}

function tree(lines: string[], items: Array<{ head: string; children: string[] }>, indent: string): void {
  items.forEach((it, i) => {
    const last = i === items.length - 1;
    lines.push(`${indent}${last ? '└─' : '├─'} ${it.head}`);
    it.children.forEach((c, j) =>
      lines.push(`${indent}${last ? '   ' : '│  '}${j === it.children.length - 1 ? '└─' : '├─'} ${c}`)
    );
  });
}

/**
 * The report as a tree for people: the verdict and the artifact, each requirement and what
 * satisfied it (or the check that failed), then every signature found with its checks.
 */
export function formatReport(r: VerificationReport): string {
  const lines: string[] = [];
  const reqs = r.requirements.map((q) => q.name).join(', ');
  const head =
    r.verdict === 'verified'
      ? '✓ Verified'
      : r.verdict === 'failed'
        ? '✗ Verification failed for'
        : '? Verification inconclusive for';
  lines.push(`${head} ${r.reference}${reqs ? ` (${reqs})` : ''}`);
  for (const c of r.checks) lines.push(`  ${checkLine(c)}`);
  tree(
    lines,
    r.requirements.map((q) => ({
      head: `requirement ${q.name}: ${q.satisfied ? `satisfied${q.by.length ? ` by ${q.by.join(', ')}` : ''}` : 'NOT satisfied'}`,
      children: q.checks.map(checkLine),
    })),
    '  '
  );
  if (!r.signatures.length) lines.push('  no signature of any family was found');
  else lines.push(`  signatures (${r.signatures.length}):`);
  tree(
    lines,
    r.signatures.map((s) => ({
      head: `${s.family} ${s.digest} (${s.source})${s.signer ? ` by ${s.signer}` : ''}${s.signingTime ? `, signed ${s.signingTime}` : ''}: ${s.verdict}`,
      children:
        s.verdict === 'unevaluated'
          ? ['no configured requirement covers this family']
          : s.checks.map(
              (c) => `${checkLine(c)}${r.requirements.length > 1 && c.requirement ? `  [${c.requirement}]` : ''}`
            ),
    })),
    '    '
  );
  return `${lines.join('\n')}\n`;
}
