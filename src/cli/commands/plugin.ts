import type { Command } from 'commander';
import { parseOutputFormat, printJson } from '../output.ts';

const plugins = () => import('../../index.ts');

export function registerPlugin(program: Command): void {
  const plugin = program
    .command('plugin')
    .description(
      'External signers and verifiers (Notary Project plugin contract 1.0; notation plugins work unchanged).'
    );
  plugin
    .command('list')
    .alias('ls')
    .description('List installed plugins with their metadata.')
    .option('-o, --output <format>', 'text or json', 'text')
    .action(async (opts: { output: string }) => {
      const format = parseOutputFormat(opts.output, ['text', 'json']);
      const out = await (await plugins()).listPlugins();
      if (format === 'json') return printJson(out);
      if (!out.length) return void process.stdout.write('no plugins: signet plugin install --file notation-NAME\n');
      for (const p of out)
        process.stdout.write(
          'error' in p
            ? `${p.name}  (broken: ${p.error})\n`
            : `${p.name}  ${p.version}  ${p.capabilities.join(', ')}  ${p.description ?? ''}\n`
        );
    });
  plugin
    .command('install')
    .description('Install a plugin executable under $SIGNET_HOME/plugins/<name>/notation-<name>.')
    .requiredOption('--file <path>', 'the plugin executable (named notation-<name>, or give --name)')
    .option('--name <name>', 'plugin name (default: from the file name)')
    .option('--force', 'replace an installed plugin of that name')
    .addHelpText(
      'after',
      '\nExample:\n  signet plugin install --file ./plugins/pkcs11/notation-pkcs11\n  signet key add hsm --plugin pkcs11 --id "token=signet;label=release" --default'
    )
    .action(async (opts: { file: string; name?: string; force?: boolean }) => {
      const { installPlugin } = await plugins();
      const m = await installPlugin(opts.file, {
        ...(opts.name ? { name: opts.name } : {}),
        force: Boolean(opts.force),
      });
      process.stdout.write(`Installed plugin ${m.name} ${m.version} (${m.capabilities.join(', ')})\n`);
    });
  plugin
    .command('uninstall')
    .alias('rm')
    .description('Remove an installed plugin.')
    .argument('<name>', 'plugin name')
    .action(async (name: string) => {
      const { uninstallPlugin } = await plugins();
      await uninstallPlugin(name);
      process.stdout.write(`Uninstalled plugin ${name}\n`);
    });
}
