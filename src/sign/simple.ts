import {
  EMPTY_JSON,
  MediaType,
  descriptorFor,
  parseRegistryReference,
  type Descriptor,
  type ImageManifest,
  type Reference,
} from '../oci/index.ts';
import {
  buildSimplePayload,
  loadRegistriesD,
  lookasideFor,
  readLookaside,
  signOpenPgp,
  SIMPLE_SIGNATURE_ARTIFACT_TYPE,
  SIMPLE_SIGNATURE_MEDIA_TYPE,
  writeLookaside,
  type RegistriesD,
} from '../signature/index.ts';
import {
  fetchAll,
  fetchManifest,
  openTarget,
  resolveOpened,
  type OpenOptions,
  type ReadableTarget,
  type Target,
} from '../store/index.ts';
import { SignetError } from '../util/index.ts';
import { attachReferrer } from './attach.ts';

/**
 * Signs a registry image with containers simple signing (GPG) and writes the signature to the
 * lookaside (staging) storage registries.d names for it, as `skopeo copy --sign-by` does.
 */
export async function signSimple(
  ref: string,
  options: { armoredKey: string; passphrase?: string; registriesD: string | RegistriesD; open?: OpenOptions }
): Promise<{ digest: string; dockerReference: string; path: string }> {
  const parsed = parseRegistryReference(ref);
  const rd = typeof options.registriesD === 'string' ? await loadRegistriesD(options.registriesD) : options.registriesD;
  const base = lookasideFor(rd, parsed.registry, parsed.repository, true);
  if (!base)
    throw new SignetError(
      'CONFIG_INVALID',
      `registries.d names no lookaside for ${parsed.registry}/${parsed.repository}`
    );
  const opened = await openTarget(parsed, options.open);
  const { target } = opened;
  let digest: string;
  try {
    digest = (await resolveOpened(opened, ref)).digest;
  } finally {
    await target.close();
  }
  // The signed identity is the reference as given (with its tag), what matchRepoDigestOrExact checks.
  const dockerReference = `${parsed.registry}/${parsed.repository}${parsed.tag ? `:${parsed.tag}` : ''}`;
  const signature = await signOpenPgp(
    buildSimplePayload(dockerReference, digest),
    options.armoredKey,
    options.passphrase
  );
  const path = await writeLookaside(base, parsed.repository, digest, signature);
  return { digest, dockerReference, path };
}

/** Attaches a simple signature (OpenPGP message) to `subject` in `target` as a referrer. */
export async function attachSimpleSignature(
  target: Target,
  subject: Descriptor,
  signature: Uint8Array
): Promise<Descriptor> {
  const layer = descriptorFor(SIMPLE_SIGNATURE_MEDIA_TYPE, signature);
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.ImageManifest,
    artifactType: SIMPLE_SIGNATURE_ARTIFACT_TYPE,
    config: { ...EMPTY_JSON },
    layers: [layer],
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
  };
  return attachReferrer(target, manifest, [
    { descriptor: layer, data: signature },
    { descriptor: EMPTY_JSON, data: Buffer.from('{}') },
  ]);
}

/** The simple signatures attached to `subject` as referrers (each fetched and digest-checked). */
async function simpleSignatureReferrers(target: ReadableTarget, subject: Descriptor): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (const r of await target.referrers(subject, SIMPLE_SIGNATURE_ARTIFACT_TYPE)) {
    const { manifest } = await fetchManifest(target, r);
    const layer =
      'layers' in manifest
        ? (manifest as ImageManifest).layers.find((l) => l.mediaType === SIMPLE_SIGNATURE_MEDIA_TYPE)
        : undefined;
    if (layer) out.push(await fetchAll(target, layer, 4 * 1024 * 1024));
  }
  return out;
}

/**
 * Moves simple signatures between lookaside storage and referrers during a copy: signatures the
 * source's lookaside holds are attached to the destination as referrers, and when registries.d
 * names a writable lookaside for the destination, every referrer signature is written there too.
 */
export async function carrySimpleSignatures(
  src: { target: ReadableTarget; parsed: Reference },
  dst: { target: Target; parsed: Reference },
  subject: Descriptor,
  registriesD: RegistriesD
): Promise<{ attached: number; written: number }> {
  let attached = 0;
  let written = 0;
  const key = (s: Uint8Array): string => Buffer.from(s).toString('base64');
  const have = new Set((await simpleSignatureReferrers(dst.target, subject)).map(key));
  if (src.parsed.kind === 'registry') {
    const base = lookasideFor(registriesD, src.parsed.registry, src.parsed.repository);
    for (const sig of base ? await readLookaside(base, src.parsed.repository, subject.digest) : []) {
      if (have.has(key(sig))) continue;
      await attachSimpleSignature(dst.target, subject, sig);
      have.add(key(sig));
      attached++;
    }
  }
  if (dst.parsed.kind === 'registry') {
    const base = lookasideFor(registriesD, dst.parsed.registry, dst.parsed.repository, true);
    if (base?.startsWith('file://')) {
      const existing = new Set((await readLookaside(base, dst.parsed.repository, subject.digest)).map(key));
      for (const sig of await simpleSignatureReferrers(dst.target, subject)) {
        if (existing.has(key(sig))) continue;
        await writeLookaside(base, dst.parsed.repository, subject.digest, sig);
        written++;
      }
    }
  }
  return { attached, written };
}
