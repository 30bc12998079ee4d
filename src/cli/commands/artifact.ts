import type { Command } from 'commander';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createWriteStream } from 'node:fs';
import type { Descriptor, ImageManifest } from '../../oci/index.ts';

const oci = () => import('../../oci/index.ts');
const targets = () => import('../../store/index.ts');
import { SignetError } from '../../util/index.ts';
import { collect, keyValues } from './args.ts';

const TITLE = 'org.opencontainers.image.title';

async function fileDescriptor(path: string, mediaType: string): Promise<Descriptor> {
  const d = new (await oci()).Digester();
  for await (const chunk of createReadStream(path)) d.update(chunk as Buffer);
  return { mediaType, digest: d.digest(), size: d.size, annotations: { [TITLE]: basename(path) } };
}

export function registerArtifact(program: Command): void {
  program
    .command('push')
    .description('Push files as an OCI 1.1 artifact (one layer per file); prints the manifest digest.')
    .argument('<ref>', 'destination reference (tag optional)')
    .argument('<files...>', 'files to push')
    .option('--artifact-type <type>', 'the artifact type', 'application/vnd.signet.artifact')
    .option('--media-type <type>', 'media type of the file layers', 'application/octet-stream')
    .option('-a, --annotation <k=v>', 'manifest annotation (repeatable)', collect, [])
    .option('--subject <ref>', 'push as a referrer of this artifact (registry or oci: reference with a digest or tag)')
    .addHelpText(
      'after',
      `
Examples:
  signet push 127.0.0.1:5000/demo/app:v1 app.tar --artifact-type application/vnd.example.app
  signet push 127.0.0.1:5000/demo/app sbom.json --artifact-type application/spdx+json \\
      --subject 127.0.0.1:5000/demo/app:v1
  signet push oci:./layout:v1 README.md`,
    )
    .action(async (ref: string, files: string[], opts: { artifactType: string; mediaType: string; annotation: string[]; subject?: string }) => {
      const annotations = keyValues(opts.annotation, '--annotation');
      const { EMPTY_JSON, MediaType, descriptorFor, encodeManifest, parseReference } = await oci();
      const { target, parsed } = await (await targets()).openTarget(ref, { create: true });
      try {
        let subject: Descriptor | undefined;
        if (opts.subject) {
          const s = parseReference(opts.subject);
          const sref = s.digest ?? s.tag;
          if (!sref) throw new SignetError('USAGE', '--subject needs a tag or digest', { kind: 'usage' });
          const d = await target.resolve(sref);
          subject = { mediaType: d.mediaType, digest: d.digest, size: d.size };
        }
        const layers: Descriptor[] = [];
        for (const f of files) {
          const desc = await fileDescriptor(f, opts.mediaType);
          await target.push(desc, createReadStream(f));
          layers.push(desc);
        }
        await target.push(EMPTY_JSON, Buffer.from('{}'));
        const manifest: ImageManifest = {
          schemaVersion: 2,
          mediaType: MediaType.ImageManifest,
          artifactType: opts.artifactType,
          config: { ...EMPTY_JSON },
          layers,
          ...(subject ? { subject } : {}),
          ...(Object.keys(annotations).length ? { annotations } : {}),
        };
        const bytes = encodeManifest(manifest);
        const desc = descriptorFor(MediaType.ImageManifest, bytes);
        await target.push(desc, bytes);
        if (parsed.tag) await target.tag(desc, parsed.tag);
        process.stdout.write(`${desc.digest}\n`);
      } finally {
        await target.close();
      }
    });

  program
    .command('pull')
    .description('Pull the files of an artifact (layers with a title annotation) into a directory.')
    .argument('<ref>', 'artifact reference with a tag or digest')
    .option('-o, --output <dir>', 'directory to write the files to', '.')
    .addHelpText('after', '\nEvery file is checked against its digest before it is moved into place.\n\nExample:\n  signet pull 127.0.0.1:5000/demo/app:v1 -o ./out')
    .action(async (ref: string, opts: { output: string }) => {
      const { OciError, isImageIndex } = await oci();
      const { openTarget, fetchManifest } = await targets();
      const { target, reference } = await openTarget(ref);
      if (!reference) throw new SignetError('USAGE', `${ref} needs a tag or digest`, { kind: 'usage' });
      try {
        const root = await target.resolve(reference);
        const { manifest } = await fetchManifest(target, root);
        if (isImageIndex(manifest)) throw new OciError('UNSUPPORTED', `${ref} is an image index; pull a platform manifest`);
        const dir = resolve(opts.output);
        await mkdir(dir, { recursive: true });
        let n = 0;
        for (const layer of manifest.layers) {
          const title = layer.annotations?.[TITLE];
          if (!title) continue;
          // A title is attacker-controlled: a plain file name only, never a path.
          if (title !== basename(title) || title === '..' || title === '.' || title.includes('\\') || title.includes('\0')) {
            throw new OciError('MANIFEST_INVALID', `layer title ${JSON.stringify(title)} is not a plain file name`);
          }
          const dest = join(dir, title);
          const tmp = `${dest}.signet-partial`;
          await pipeline(await target.fetch(layer), createWriteStream(tmp));
          const fh = await open(tmp, 'r');
          await fh.sync();
          await fh.close();
          await rename(tmp, dest);
          process.stdout.write(`${dest} (${(await stat(dest)).size} bytes)\n`);
          n++;
        }
        if (n === 0) process.stderr.write('the artifact has no layers with a title annotation: nothing written\n');
      } finally {
        await target.close();
      }
    });
}
