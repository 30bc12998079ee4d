import * as z from 'zod';
import { OciError } from './errors.ts';
import { digestOf as digestOfBytes, isValidArtifactDigest, isValidDigest, verifyBytes } from './digest.ts';
import { MediaType, isValidMediaType, isIndexMediaType } from './mediatype.ts';

/** Largest manifest Signet reads or stores (DESIGN §5: manifests 4 MiB). */
export const MAX_MANIFEST_SIZE = 4 * 1024 * 1024;

const mediaTypeField = z.string().refine(isValidMediaType, { message: 'not a valid media type (type/subtype)' });
const annotations = z.record(z.string(), z.string());

export const platformSchema = z.looseObject({
  architecture: z.string(),
  os: z.string(),
  'os.version': z.string().optional(),
  'os.features': z.array(z.string()).optional(),
  variant: z.string().optional(),
  features: z.array(z.string()).optional(),
});

export const descriptorSchema = z.looseObject({
  mediaType: mediaTypeField,
  digest: z.string().refine(isValidDigest, { message: 'not a valid sha256/sha512 digest' }),
  size: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  urls: z.array(z.string()).optional(),
  annotations: annotations.optional(),
  data: z
    .string()
    .regex(/^[A-Za-z0-9+/]*={0,2}$/, 'not base64')
    .optional(),
  artifactType: mediaTypeField.optional(),
  platform: platformSchema.optional(),
});

export const imageManifestSchema = z.looseObject({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  artifactType: mediaTypeField.optional(),
  config: descriptorSchema,
  layers: z.array(descriptorSchema),
  subject: descriptorSchema.optional(),
  annotations: annotations.optional(),
});

export const imageIndexSchema = z.looseObject({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  artifactType: mediaTypeField.optional(),
  manifests: z.array(descriptorSchema),
  subject: descriptorSchema.optional(),
  annotations: annotations.optional(),
});

// A signed artifact's descriptor (Notary Project targetArtifact): its digest may also be sha384.
const artifactDescriptorSchema = descriptorSchema.extend({
  digest: z.string().refine(isValidArtifactDigest, { message: 'not a valid sha256/sha384/sha512 digest' }),
});

/** A content descriptor (image-spec descriptor.md). */
export type Descriptor = z.infer<typeof descriptorSchema>;
export type Platform = z.infer<typeof platformSchema>;
/** An image manifest; also the shape of OCI 1.1 artifacts (artifactType + subject). */
export type ImageManifest = z.infer<typeof imageManifestSchema>;
/** An image index (multi-platform images, the referrers response, the referrers tag schema). */
export type ImageIndex = z.infer<typeof imageIndexSchema>;
export type Manifest = ImageManifest | ImageIndex;

function describeZodError(err: z.ZodError): string {
  return err.issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`)
    .join('; ');
}

/** Validates a descriptor object, naming the bad field. */
export function parseDescriptor(
  value: unknown,
  where = 'descriptor',
  options: { artifact?: boolean } = {}
): Descriptor {
  const r = (options.artifact ? artifactDescriptorSchema : descriptorSchema).safeParse(value);
  if (!r.success) throw new OciError('MANIFEST_INVALID', `${where}: ${describeZodError(r.error)}`);
  return r.data;
}

/**
 * Parses manifest bytes of the given media type, strictly: JSON object, size bound, schema, and
 * (when the document names one) its own mediaType must agree with the one it was served as.
 */
export function parseManifest(bytes: Uint8Array, mediaType: string): Manifest {
  if (bytes.length > MAX_MANIFEST_SIZE) {
    throw new OciError(
      'MANIFEST_INVALID',
      `manifest is ${bytes.length} bytes, over the ${MAX_MANIFEST_SIZE}-byte limit`
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (err) {
    throw new OciError('MANIFEST_INVALID', `manifest is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new OciError('MANIFEST_INVALID', 'manifest must be a JSON object');
  }
  const declared = (json as { mediaType?: unknown }).mediaType;
  if (declared !== undefined && declared !== mediaType) {
    // Named by its type when it is not a string: a hostile value may be nested too deep to print.
    const shown = typeof declared === 'string' ? JSON.stringify(declared.slice(0, 200)) : `of type ${typeof declared}`;
    throw new OciError('MANIFEST_INVALID', `manifest mediaType ${shown} differs from ${mediaType}`);
  }
  const schema = isIndexMediaType(mediaType) ? imageIndexSchema : imageManifestSchema;
  if (!isIndexMediaType(mediaType) && mediaType !== MediaType.ImageManifest && mediaType !== MediaType.DockerManifest) {
    throw new OciError('MANIFEST_INVALID', `unsupported manifest media type ${JSON.stringify(mediaType)}`);
  }
  const r = schema.safeParse(json);
  if (!r.success) throw new OciError('MANIFEST_INVALID', `invalid manifest: ${describeZodError(r.error)}`);
  return r.data;
}

/** Parses manifest bytes after checking them against their descriptor (size and digest). */
export function parseVerifiedManifest(bytes: Uint8Array, desc: Descriptor): Manifest {
  verifyBytes(bytes, desc);
  return parseManifest(bytes, desc.mediaType);
}

export function isImageIndex(m: Manifest): m is ImageIndex {
  return Array.isArray((m as ImageIndex).manifests);
}

/** The descriptors a manifest points down to (config and layers, or child manifests). */
export function successors(m: Manifest): Descriptor[] {
  if (isImageIndex(m)) return [...m.manifests];
  return [m.config, ...m.layers];
}

/** The artifact type of a manifest as the referrers API reports it (artifactType, else config type). */
export function artifactTypeOf(m: Manifest): string | undefined {
  if (m.artifactType) return m.artifactType;
  if (!isImageIndex(m)) return m.config.mediaType;
  return undefined;
}

/** Canonical bytes of a manifest Signet writes (compact JSON, key order as given). */
export function encodeManifest(m: Manifest): Uint8Array {
  return Buffer.from(JSON.stringify(m), 'utf8');
}

/** A descriptor for bytes of a media type. */
export function descriptorFor(mediaType: string, bytes: Uint8Array, extra: Partial<Descriptor> = {}): Descriptor {
  return { mediaType, digest: digestOfBytes(bytes), size: bytes.length, ...extra };
}

/** The descriptor for a referrer, as the referrers API lists it. */
export function referrerDescriptor(desc: Descriptor, m: Manifest): Descriptor {
  const out: Descriptor = { mediaType: desc.mediaType, digest: desc.digest, size: desc.size };
  const at = artifactTypeOf(m);
  if (at) out.artifactType = at;
  if (m.annotations && Object.keys(m.annotations).length) out.annotations = m.annotations;
  return out;
}

/** Only the three identifying fields of a descriptor. */
export function plainDescriptor(d: Descriptor): Descriptor {
  return { mediaType: d.mediaType, digest: d.digest, size: d.size };
}
