import type { Command } from 'commander';
import { SignetError } from '../../util/index.ts';
import { printJson } from '../output.ts';

export function registerCopy(program: Command): void {
  program
    .command('copy')
    .alias('cp')
    .description('Copy an artifact and its whole referrers graph (signatures, SBOMs, their signatures) between registries and OCI layouts.')
    .argument('<src>', 'source reference (registry or oci: layout), with a tag or digest')
    .argument('<dst>', 'destination reference; without a tag, the source tag is used')
    .option('--no-referrers', 'copy only the artifact, not what refers to it')
    .option('--concurrency <n>', 'blobs copied at once', '4')
    .option('-o, --output <format>', 'text or json (the copy report)', 'text')
    .option('-q, --quiet', 'print only the result')
    .option('--registries-d <dir>', 'containers registries.d: carry simple signatures from the source lookaside as referrers, and write them to the destination lookaside')
    .addHelpText(
      'after',
      `
Blobs the destination already has are skipped; within one registry they are mounted, not moved.
Every byte is checked against its digest on the way. A layout destination (dir or .tar) is
created when missing.

Examples:
  signet copy 127.0.0.1:5000/app:v1 registry.example.com/prod/app:v1
  signet copy 127.0.0.1:5000/app:v1 oci:./airgap/app:v1       # into a layout directory
  signet copy 127.0.0.1:5000/app:v1 oci:./app.tar:v1          # into a layout tarball
  signet copy oci:./app.tar:v1 10.0.0.5:5000/app              # and back out, on the other side`,
    )
    .action(async (srcRef: string, dstRef: string, opts: { referrers: boolean; concurrency: string; output: string; quiet?: boolean; registriesD?: string }) => {
      const concurrency = Number(opts.concurrency);
      if (!Number.isInteger(concurrency) || concurrency < 1) throw new SignetError('USAGE', '--concurrency takes a positive whole number', { kind: 'usage' });
      const { openTarget } = await import('../../store/index.ts');
      const { copy } = await import('../../copy/index.ts');
      const { copyProgress } = await import('../progress.ts');
      const src = await openTarget(srcRef);
      const dst = await openTarget(dstRef, { create: true });
      if (!src.reference) throw new SignetError('USAGE', `source ${srcRef} needs a tag or digest`, { kind: 'usage' });
      if (dst.parsed.digest) throw new SignetError('USAGE', `destination ${dstRef} must not name a digest (it is the source's)`, { kind: 'usage' });
      const progress = copyProgress(opts.quiet || opts.output === 'json' ? 'quiet' : 'auto');
      try {
        const report: Awaited<ReturnType<typeof copy>> & { simpleSignatures?: { attached: number; written: number } } = await copy(src.target, src.reference, dst.target, dst.parsed.tag, { referrers: opts.referrers, concurrency, onProgress: progress.onProgress });
        if (opts.registriesD) {
          const { carrySimpleSignatures } = await import('../../containers.ts');
          const { loadRegistriesD } = await import('../../signature/index.ts');
          report.simpleSignatures = await carrySimpleSignatures(src, dst, report.root, await loadRegistriesD(opts.registriesD));
        }
        progress.stop();
        if (opts.output === 'json') printJson(report);
        else
          process.stdout.write(
            `Copied ${report.root.digest} to ${dst.target.name}: ${report.copied} items (${report.copiedBytes} bytes), ${report.skipped} already there, ${report.mounted} mounted, ${report.referrers} referrers${report.simpleSignatures ? `; simple signatures: ${report.simpleSignatures.attached} attached as referrers, ${report.simpleSignatures.written} written to lookaside` : ''}\n`,
          );
      } finally {
        progress.stop();
        await src.target.close();
        await dst.target.close();
      }
    });
}
