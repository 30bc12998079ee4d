import type { Command } from 'commander';
import type { ReferrerNode } from '../../index.ts';
import { parseOutputFormat, printJson } from '../output.ts';
import { registryFlags, registryOpenOptions, type RegistryFlags } from './args.ts';

function printTree(node: ReferrerNode, name: string): void {
  process.stdout.write(`${name}@${node.digest}\n`);
  const walk = (n: ReferrerNode, prefix: string): void => {
    n.referrers.forEach((r, i) => {
      const last = i === n.referrers.length - 1;
      const notes = Object.entries(r.annotations ?? {})
        .filter(([k]) => k !== 'io.cncf.notary.x509chain.thumbprint#S256')
        .map(([k, v]) => `${k}=${v.length > 40 ? `${v.slice(0, 37)}...` : v}`)
        .join(', ');
      process.stdout.write(
        `${prefix}${last ? '└── ' : '├── '}${r.artifactType ?? r.mediaType} ${r.digest}${r.via ? ` [${r.via}]` : ''}${notes ? `  (${notes})` : ''}\n`
      );
      walk(r, `${prefix}${last ? '    ' : '│   '}`);
    });
  };
  walk(node, '');
  if (node.referrers.length === 0) process.stdout.write('(no referrers)\n');
}

export function registerDiscover(program: Command): void {
  const discoverCmd = program
    .command('discover')
    .description('Show the referrers graph of an artifact: signatures, SBOMs, attestations, and what refers to them.')
    .argument('<ref>', 'artifact reference with a tag or digest')
    .option('-o, --output <format>', 'tree or json', 'tree')
    .option('--artifact-type <type>', 'only referrers of this type at the first level');
  registryFlags(discoverCmd)
    .addHelpText(
      'after',
      '\nExamples:\n  signet discover 127.0.0.1:5000/demo/app:v1\n  signet discover oci:./layout:v1 -o json --artifact-type application/vnd.cncf.notary.signature'
    )
    .action(async (ref: string, opts: { output: string; artifactType?: string } & RegistryFlags) => {
      const format = parseOutputFormat(opts.output, ['tree', 'json']);
      const { discover } = await import('../../index.ts');
      const { name, tree } = await discover(ref, {
        ...(opts.artifactType ? { artifactType: opts.artifactType } : {}),
        open: registryOpenOptions(opts),
      });
      if (format === 'json') printJson(tree);
      else printTree(tree, name);
    });
}
