import type { Command } from 'commander';
import { resolve } from 'node:path';
import { SignetError, type FsckReport } from '../../index.ts';
import { parseOutputFormat, printJson } from '../output.ts';

function printFsck(report: FsckReport, json: boolean): void {
  if (json) return printJson(report);
  process.stdout.write(
    `checked ${report.objects} objects, ${report.manifests} manifests, ${report.tags} tags, ${report.referrers} referrer entries\n` +
      `corrupt: ${report.corrupt.length}, dangling: ${report.dangling.length}, temp files: ${report.tempFiles}, upload sessions: ${report.uploads}\n`
  );
  for (const c of report.corrupt) process.stdout.write(`corrupt: ${c}\n`);
  for (const d of report.dangling) process.stdout.write(`dangling: ${d}\n`);
}

async function runFsck(root: string, json: boolean): Promise<void> {
  const { fsck } = await import('../../index.ts');
  const report = await fsck(resolve(root));
  printFsck(report, json);
  if (report.corrupt.length || report.dangling.length) {
    throw new SignetError(
      'FSCK_FAILED',
      `store ${root} has ${report.corrupt.length} corrupt and ${report.dangling.length} dangling entries`
    );
  }
}

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('Run the embedded OCI registry (distribution-spec v1.1, referrers API, web view at /).')
    .option('--addr <host:port>', 'address to listen on (port 0 picks a free port)', '127.0.0.1:5000')
    .option('--root <dir>', 'storage directory', 'signet-registry')
    .option(
      '--auth <file>',
      'users and per-repository permissions (JSON, see docs/registry-auth.md); served through the bearer-token flow'
    )
    .option('--log-level <level>', LOG_LEVELS.join('|'), 'info')
    .option('--check', 'check the store (like `signet fsck`) and exit')
    .addHelpText(
      'after',
      `
Storage is content addressed; every write goes to a temp file that is fsynced and renamed, so no
partial object is ever visible and an acknowledged push survives a crash.

Examples:
  signet serve                                   # 127.0.0.1:5000, ./signet-registry
  signet serve --addr 0.0.0.0:5000 --root /var/lib/signet --auth auth.json
  signet serve --root /var/lib/signet --check    # verify the store and exit`
    )
    .action(async (opts: { addr: string; root: string; auth?: string; logLevel: string; check?: boolean }) => {
      if (!LOG_LEVELS.includes(opts.logLevel)) {
        const message = `unknown --log-level ${JSON.stringify(opts.logLevel)}; choose one of ${LOG_LEVELS.join(', ')}`;
        throw new SignetError('USAGE', message);
      }
      if (opts.check) return runFsck(opts.root, false);
      const { pino } = await import('pino');
      const { startRegistry } = await import('../../index.ts');
      const { createAuthorizer } = await import('../../index.ts');
      const logger = pino({ level: opts.logLevel, base: undefined }, pino.destination(2));
      const authorizer = opts.auth ? await createAuthorizer(resolve(opts.auth)) : undefined;
      const reg = await startRegistry({
        addr: opts.addr,
        root: resolve(opts.root),
        logger,
        ...(authorizer ? { authorizer } : {}),
      });
      process.stderr.write(
        `signet serve listening on ${reg.url} (root ${resolve(opts.root)}${authorizer ? ', auth on' : ''})\n`
      );
      await new Promise<void>((done) => {
        const stop = (): void => {
          void reg.close().then(done);
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });

  program
    .command('fsck')
    .description(
      "Check an embedded registry's store: every object against its digest, every reference against existence."
    )
    .requiredOption('--root <dir>', 'storage directory of `signet serve`')
    .option('-o, --output <format>', 'text or json', 'text')
    .addHelpText(
      'after',
      '\nExit code 0 when the store is sound; 3 when anything is corrupt or dangling, or the directory is\n' +
        'not a store; 2 when it does not exist.\n\nExample:\n  signet fsck --root ./signet-registry -o json'
    )
    .action(async (opts: { root: string; output: string }) => {
      const format = parseOutputFormat(opts.output, ['text', 'json']);
      return runFsck(opts.root, format === 'json');
    });
}
