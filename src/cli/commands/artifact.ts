import type { Command } from 'commander';
import { collect, keyValues, registryFlags, registryOpenOptions, type RegistryFlags } from './args.ts';

export function registerArtifact(program: Command): void {
  const pushCmd = program
    .command('push')
    .description('Push files as an OCI 1.1 artifact (one layer per file); prints the manifest digest.')
    .argument('<ref>', 'destination reference (tag optional)')
    .argument('<files...>', 'files to push')
    .option('--artifact-type <type>', 'the artifact type', 'application/vnd.signet.artifact')
    .option('--media-type <type>', 'media type of the file layers', 'application/octet-stream')
    .option('-a, --annotation <k=v>', 'manifest annotation (repeatable)', collect, [])
    .option('--subject <ref>', 'push as a referrer of this artifact (registry or oci: reference with a digest or tag)');
  registryFlags(pushCmd)
    .addHelpText(
      'after',
      `
Examples:
  signet push 127.0.0.1:5000/demo/app:v1 app.tar --artifact-type application/vnd.example.app
  signet push 127.0.0.1:5000/demo/app sbom.json --artifact-type application/spdx+json \\
      --subject 127.0.0.1:5000/demo/app:v1
  signet push oci:./layout:v1 README.md`
    )
    .action(
      async (
        ref: string,
        files: string[],
        opts: { artifactType: string; mediaType: string; annotation: string[]; subject?: string } & RegistryFlags
      ) => {
        const annotations = keyValues(opts.annotation, '--annotation');
        const { push } = await import('../../index.ts');
        const desc = await push(ref, files, {
          artifactType: opts.artifactType,
          mediaType: opts.mediaType,
          annotations,
          ...(opts.subject ? { subject: opts.subject } : {}),
          open: registryOpenOptions(opts),
        });
        process.stdout.write(`${desc.digest}\n`);
      }
    );

  const pullCmd = program
    .command('pull')
    .description('Pull the files of an artifact (layers with a title annotation) into a directory.')
    .argument('<ref>', 'artifact reference with a tag or digest')
    .option('-o, --output <dir>', 'directory to write the files to', '.');
  registryFlags(pullCmd)
    .addHelpText(
      'after',
      '\nEvery file is checked against its digest before it is moved into place.\n\nExample:\n  signet pull 127.0.0.1:5000/demo/app:v1 -o ./out'
    )
    .action(async (ref: string, opts: { output: string } & RegistryFlags) => {
      const { pull } = await import('../../index.ts');
      const written = await pull(ref, opts.output, { open: registryOpenOptions(opts) });
      for (const f of written) process.stdout.write(`${f.path} (${f.size} bytes)\n`);
      if (written.length === 0)
        process.stderr.write('the artifact has no layers with a title annotation: nothing written\n');
    });
}
