import type { Command } from 'commander';
import { SignetError } from '../../index.ts';
import { parseOutputFormat, printJson } from '../output.ts';
import { collect, registryFlags, registryOpenOptions, type RegistryFlags } from './args.ts';

export function registerCopy(program: Command): void {
  const copyCmd = program
    .command('copy')
    .alias('cp')
    .description(
      'Copy an artifact and its whole referrers graph (signatures, SBOMs, their signatures) between registries and OCI layouts.'
    )
    .argument('<src>', 'source reference (registry or oci: layout), with a tag or digest')
    .argument('<dst>', 'destination reference; without a tag, the source tag is used')
    .option('--no-referrers', 'copy only the artifact, not what refers to it')
    .option('--concurrency <n>', 'blobs copied at once', '4')
    .option('-o, --output <format>', 'text or json (the copy report)', 'text')
    .option('-q, --quiet', 'print only the result')
    .option(
      '--registries-d <dir>',
      'containers registries.d: carry simple signatures from the source lookaside as referrers, and write them to the destination lookaside'
    )
    .option(
      '--referrers-from <repo>',
      "also copy the artifact's referrers kept in this repository (cosign's COSIGN_REPOSITORY), beside the copy (repeatable)",
      collect,
      []
    )
    .option(
      '--tuf <tufref>',
      'carry this TUF repository (Layer B freshness) beside the artifact, tagged tuf in the destination (oci:DIR:tuf in a layout)'
    )
    .option(
      '--trusted-root <file>',
      'carry this Sigstore trusted_root.json into the destination (an artifact tagged sigstore-trusted-root); a verifier uses it only when its policy pins the printed digest (trustedRootDigest)'
    );
  registryFlags(copyCmd)
    .addHelpText(
      'after',
      `
Blobs the destination already has are skipped; within one registry they are mounted, not moved.
Every byte is checked against its digest on the way. A layout destination (dir or .tar) is
created when missing. --plain-http and --insecure apply to both ends.

Examples:
  signet copy 127.0.0.1:5000/app:v1 registry.example.com/prod/app:v1
  signet copy 127.0.0.1:5000/app:v1 oci:./airgap/app:v1       # into a layout directory
  signet copy 127.0.0.1:5000/app:v1 oci:./app.tar:v1          # into a layout tarball
  signet copy oci:./app.tar:v1 10.0.0.5:5000/app              # and back out, on the other side
  signet copy 127.0.0.1:5000/app:v1 oci:./airgap:v1 --trusted-root trusted_root.json   # Sigstore, offline
  signet copy 127.0.0.1:5000/app:v1 oci:./airgap:v1 --tuf 127.0.0.1:5000/acme/tuf-metadata:latest   # freshness, offline`
    )
    .action(async (srcRef: string, dstRef: string, opts: CopyCliOptions) => {
      // Every argument is checked before anything is opened, created or copied.
      const concurrency = Number(opts.concurrency);
      if (!Number.isInteger(concurrency) || concurrency < 1) {
        throw new SignetError('USAGE', '--concurrency takes a positive whole number');
      }
      const format = parseOutputFormat(opts.output, ['text', 'json']);
      if (opts.trustedRoot !== undefined) {
        const { existsSync } = await import('node:fs');
        if (!existsSync(opts.trustedRoot))
          throw new SignetError('USAGE', `trusted root file ${opts.trustedRoot} does not exist`);
      }
      const { copy } = await import('../../index.ts');
      const { copyProgress } = await import('../progress.ts');
      const progress = copyProgress(opts.quiet || format === 'json' ? 'quiet' : 'auto');
      try {
        const report = await copy(srcRef, dstRef, {
          referrers: opts.referrers,
          concurrency,
          onProgress: progress.onProgress,
          ...(opts.registriesD ? { registriesD: opts.registriesD } : {}),
          ...(opts.trustedRoot !== undefined ? { trustedRoot: opts.trustedRoot } : {}),
          ...(opts.tuf !== undefined ? { tuf: opts.tuf } : {}),
          ...(opts.referrersFrom.length ? { referrersFrom: opts.referrersFrom } : {}),
          open: registryOpenOptions(opts),
        });
        progress.stop();
        if (format === 'json') printJson(report);
        else {
          const simple = report.simpleSignatures
            ? `; simple signatures: ${report.simpleSignatures.attached} attached as referrers, ` +
              `${report.simpleSignatures.written} written to lookaside`
            : '';
          const counts = `${report.copied} items (${report.copiedBytes} bytes), ${report.skipped} already there`;
          const root = report.trustedRoot
            ? `; Sigstore trusted root ${report.trustedRoot.digest} (tag sigstore-trusted-root)`
            : '';
          const tufNote = report.tuf ? `; TUF repository ${report.tuf.bundle.digest} as ${report.tuf.destination}` : '';
          process.stdout.write(
            `Copied ${report.root.digest} to ${report.destination}: ${counts}, ` +
              `${report.mounted} mounted, ${report.referrers} referrers${simple}${root}${tufNote}\n`
          );
        }
      } finally {
        progress.stop();
      }
    });
}

interface CopyCliOptions extends RegistryFlags {
  referrers: boolean;
  concurrency: string;
  output: string;
  quiet?: boolean;
  registriesD?: string;
  trustedRoot?: string;
  tuf?: string;
  referrersFrom: string[];
}
