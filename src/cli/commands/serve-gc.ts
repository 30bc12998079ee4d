import type { Command } from 'commander';
import { resolve } from 'node:path';
import type { GcReport } from '../../index.ts';
import { parseOutputFormat, printJson } from '../output.ts';

function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}

function printGc(report: GcReport): void {
  const verb = report.dryRun ? 'would remove' : 'removed';
  const line = (what: string, c: { count: number; bytes: number }): string =>
    `${verb} ${c.count} ${what} (${formatBytes(c.bytes)})\n`;
  process.stdout.write(
    line('unreferenced blobs', report.blobs) +
      line('expired upload sessions', report.uploads) +
      line('stale temp files', report.tempFiles) +
      line('stale reverse links', report.staleLinks) +
      `kept ${report.youngBlobs} unreferenced blobs younger than the grace period\n`
  );
  for (const d of report.blobs.digests) process.stdout.write(`${verb}: ${d}\n`);
}

/** Adds `gc` under `signet serve`: garbage collection of the registry's store. */
export function registerServeGc(serve: Command): void {
  serve
    .command('gc')
    .description(
      'Remove what no repository of the registry store references: unreferenced blobs, expired upload sessions, stale temp files.'
    )
    .option('--root <dir>', 'storage directory of `signet serve` (required)')
    .option(
      '--grace <duration>',
      'keep unreferenced blobs and temp files younger than this (a push in flight keeps its blobs)',
      '1h'
    )
    .option('--upload-ttl <duration>', 'remove upload sessions created longer ago than this', '24h')
    .option('--dry-run', 'print what would be removed, remove nothing')
    .option('-o, --output <format>', 'text or json', 'text')
    .addHelpText(
      'after',
      `
A blob is referenced while some repository links it (_layers) or has it as a manifest. Tags and
manifests are never removed here: delete them through the registry API first (DELETE
/v2/<name>/manifests/<digest> also deletes the manifest's referrers), then run gc. Reverse links a
crash left behind (naming a manifest the repository does not have) go with the temp files.

Safe beside a running \`signet serve\` and pushes in flight (online) or with the server stopped
(offline). Keep --grace well above zero online: a blob stored a moment ago may not be linked yet.
Keep --upload-ttl at least the server's upload TTL (24h by default), or an upload the server would
still accept may be removed under it. Durations: 30s, 15m, 1h, 2d (and sums such as 1h30m).

Exit codes: 0 done (also when nothing was removed), 2 usage (bad flag or duration, no store at
--root), 3 any other failure.

Examples:
  signet serve gc --root ./signet-registry                     # grace 1h, upload TTL 24h
  signet serve gc --root /var/lib/signet --dry-run             # what would go, nothing removed
  signet serve gc --root /var/lib/signet --grace 15m --upload-ttl 2d
  signet serve gc --root /var/lib/signet --grace 0 -o json     # server stopped: no push in flight`
    )
    .action(async (opts: { root?: string; grace: string; uploadTtl: string; dryRun?: boolean; output: string }) => {
      const format = parseOutputFormat(opts.output, ['text', 'json']);
      const { gc, parseDuration, SignetError } = await import('../../index.ts');
      // `serve` has a --root of its own and commander hands it any --root on the line, also one
      // after `gc`: take it from there when it was given.
      const root =
        opts.root ?? (serve.getOptionValueSource('root') === 'cli' ? (serve.opts().root as string) : undefined);
      if (!root) throw new SignetError('USAGE', 'signet serve gc needs --root <dir> (the storage directory)');
      const graceMs = parseDuration(opts.grace);
      const uploadTtlMs = parseDuration(opts.uploadTtl);
      const report = await gc(resolve(root), { graceMs, uploadTtlMs, dryRun: Boolean(opts.dryRun) });
      if (format === 'json') printJson(report);
      else printGc(report);
    });
}
