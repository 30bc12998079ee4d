import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import {
  Digester,
  EMPTY_JSON,
  MediaType,
  descriptorFor,
  encodeManifest,
  parseReference,
  type Descriptor,
  type ImageManifest,
} from '../oci/index.ts';
import { openTarget, type OpenOptions } from '../store/index.ts';
import { SignetError } from '../util/index.ts';

/** The annotation naming a layer's file. */
export const TITLE_ANNOTATION = 'org.opencontainers.image.title';

async function fileDescriptor(path: string, mediaType: string): Promise<Descriptor> {
  const d = new Digester();
  for await (const chunk of createReadStream(path)) d.update(chunk as Buffer);
  return { mediaType, digest: d.digest(), size: d.size, annotations: { [TITLE_ANNOTATION]: basename(path) } };
}

export interface PushOptions {
  /** The artifact type (default `application/vnd.signet.artifact`). */
  artifactType?: string;
  /** Media type of the file layers (default `application/octet-stream`). */
  mediaType?: string;
  annotations?: Record<string, string>;
  /** Push as a referrer of this artifact (a reference into the same target, with a tag or digest). */
  subject?: string;
  open?: OpenOptions;
}

/**
 * `signet push`: files as an OCI 1.1 artifact, one layer per file (titled by file name), an
 * empty config; tagged when the reference has a tag. Returns the manifest's descriptor.
 */
export async function push(ref: string, files: string[], options: PushOptions = {}): Promise<Descriptor> {
  let subjectRef: string | undefined;
  if (options.subject) {
    const s = parseReference(options.subject);
    subjectRef = s.digest ?? s.tag;
    if (!subjectRef) throw new SignetError('USAGE', `subject ${options.subject} needs a tag or digest`);
  }
  const { target, parsed } = await openTarget(ref, { ...options.open, create: true });
  try {
    let subject: Descriptor | undefined;
    if (subjectRef) {
      const d = await target.resolve(subjectRef);
      subject = { mediaType: d.mediaType, digest: d.digest, size: d.size };
    }
    const layers: Descriptor[] = [];
    for (const f of files) {
      const desc = await fileDescriptor(f, options.mediaType ?? 'application/octet-stream');
      await target.push(desc, createReadStream(f));
      layers.push(desc);
    }
    await target.push(EMPTY_JSON, Buffer.from('{}'));
    const annotations = options.annotations ?? {};
    const manifest: ImageManifest = {
      schemaVersion: 2,
      mediaType: MediaType.ImageManifest,
      artifactType: options.artifactType ?? 'application/vnd.signet.artifact',
      config: { ...EMPTY_JSON },
      layers,
      ...(subject ? { subject } : {}),
      ...(Object.keys(annotations).length ? { annotations } : {}),
    };
    const bytes = encodeManifest(manifest);
    const desc = descriptorFor(MediaType.ImageManifest, bytes);
    await target.push(desc, bytes);
    if (parsed.tag) await target.tag(desc, parsed.tag);
    return desc;
  } finally {
    await target.close();
  }
}
