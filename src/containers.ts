import { EMPTY_JSON, MediaType, descriptorFor, encodeManifest, parseRegistryReference, type Descriptor, type ImageManifest, type Reference } from './oci/index.ts';
import { buildSimplePayload, loadRegistriesD, lookasideFor, parseCosignPublicKey, parseSimplePayload, readLookaside, signOpenPgp, verifyOpenPgpMessage, writeLookaside, type RegistriesD } from './signature/index.ts';
import { fetchAll, fetchManifest, openTarget, type OpenOptions, type Target } from './store/index.ts';
import { containersIdentityMatches as identityMatches, loadContainersPolicy, requirementsFor, type ContainersPolicy, type Requirement } from './trust/index.ts';
import { verifyCosign } from './cosign.ts';
import { SignetError } from './util/index.ts';

export interface ContainersPolicyResult {
  reference: string;
  digest: string;
  accepted: boolean;
  scope: string;
  results: Array<{ requirement: Requirement['type']; ok: boolean; message: string }>;
}

/**
 * Enforces a containers policy.json for a registry reference, as skopeo/podman/CRI-O would:
 * every requirement of the most specific scope must pass; simple signatures come from the
 * lookaside configured in registries.d, cosign ones from the `sha256-<hex>.sig` tag.
 */
export async function verifyContainersPolicy(ref: string, options: { policy: string | ContainersPolicy; registriesD?: string | RegistriesD; open?: OpenOptions }): Promise<ContainersPolicyResult> {
  const parsed = parseRegistryReference(ref);
  const policy = typeof options.policy === 'string' ? await loadContainersPolicy(options.policy) : options.policy;
  const rd = typeof options.registriesD === 'string' ? await loadRegistriesD(options.registriesD) : options.registriesD;
  const { target, reference } = await openTarget(parsed, options.open);
  let digest: string;
  let referrerSigs: Uint8Array[];
  try {
    if (!reference) throw new SignetError('USAGE', `${ref} needs a tag or digest`, { kind: 'usage' });
    const root = await target.resolve(reference);
    digest = root.digest;
    // Simple signatures may also travel as referrers (signet copy puts them there).
    referrerSigs = await simpleSignatureReferrers(target, { mediaType: root.mediaType, digest: root.digest, size: root.size });
  } finally {
    await target.close();
  }
  const { scope, requirements } = requirementsFor(policy, parsed);
  const results: ContainersPolicyResult['results'] = [];
  for (const req of requirements) {
    if (req.type === 'insecureAcceptAnything') results.push({ requirement: req.type, ok: true, message: 'accepted without checks (insecureAcceptAnything)' });
    else if (req.type === 'reject') results.push({ requirement: req.type, ok: false, message: `rejected by the policy (scope ${scope})` });
    else if (req.type === 'signedBy') {
      const base = rd ? lookasideFor(rd, parsed.registry, parsed.repository) : undefined;
      const sigs = [...(base ? await readLookaside(base, parsed.repository, digest) : []), ...referrerSigs];
      const reasons: string[] = [];
      let ok = false;
      for (const [i, sig] of sigs.entries()) {
        try {
          const { data, fingerprint } = await verifyOpenPgpMessage(sig, req.keys);
          const p = parseSimplePayload(data);
          if (p.dockerManifestDigest !== digest) reasons.push(`signature-${i + 1}: signed digest ${p.dockerManifestDigest} is not ${digest}`);
          else if (!identityMatches(req.signedIdentity, parsed, p.dockerReference)) reasons.push(`signature-${i + 1}: signed identity ${p.dockerReference} does not match ${ref} (${req.signedIdentity.type})`);
          else {
            ok = true;
            results.push({ requirement: req.type, ok: true, message: `signed by ${fingerprint} for ${p.dockerReference}` });
            break;
          }
        } catch (err) {
          if (err instanceof SignetError && err.kind === 'inconclusive') throw err;
          reasons.push(`signature-${i + 1}: ${(err as Error).message}`);
        }
      }
      if (!ok) results.push({ requirement: req.type, ok: false, message: sigs.length ? reasons.join('; ') : `no simple signature found${base ? ` in ${base}` : ' (no lookaside configured in registries.d)'}` });
    } else {
      const keys = req.keys.map((k) => parseCosignPublicKey(k));
      const v = await verifyCosign(`${parsed.registry}/${parsed.repository}@${digest}`, keys, { identity: false, ...(options.open ? { open: options.open } : {}) });
      const good = v.signatures.find((s) => s.verified && s.dockerReference !== undefined && identityMatches(req.signedIdentity, parsed, s.dockerReference));
      results.push(good ? { requirement: req.type, ok: true, message: `cosign signature for ${good.dockerReference}` } : { requirement: req.type, ok: false, message: v.signatures.length ? v.signatures.map((s) => s.reason ?? `identity ${s.dockerReference} does not match`).join('; ') : 'no cosign signature found' });
    }
  }
  return { reference: ref, digest, accepted: results.length > 0 && results.every((r) => r.ok), scope, results };
}

/**
 * Signs a registry image with containers simple signing (GPG) and writes the signature to the
 * lookaside (staging) storage registries.d names for it, as `skopeo copy --sign-by` does.
 */
export async function signSimple(ref: string, options: { armoredKey: string; passphrase?: string; registriesD: string | RegistriesD; open?: OpenOptions }): Promise<{ digest: string; dockerReference: string; path: string }> {
  const parsed = parseRegistryReference(ref);
  const rd = typeof options.registriesD === 'string' ? await loadRegistriesD(options.registriesD) : options.registriesD;
  const base = lookasideFor(rd, parsed.registry, parsed.repository, true);
  if (!base) throw new SignetError('CONFIG_INVALID', `registries.d names no lookaside for ${parsed.registry}/${parsed.repository}`, { kind: 'usage' });
  const { target, reference } = await openTarget(parsed, options.open);
  let digest: string;
  try {
    if (!reference) throw new SignetError('USAGE', `${ref} needs a tag or digest`, { kind: 'usage' });
    digest = (await target.resolve(reference)).digest;
  } finally {
    await target.close();
  }
  // The signed identity is the reference as given (with its tag), what matchRepoDigestOrExact checks.
  const dockerReference = `${parsed.registry}/${parsed.repository}${parsed.tag ? `:${parsed.tag}` : ''}`;
  const signature = await signOpenPgp(buildSimplePayload(dockerReference, digest), options.armoredKey, options.passphrase);
  const path = await writeLookaside(base, parsed.repository, digest, signature);
  return { digest, dockerReference, path };
}

/** Simple signatures kept as OCI referrers, so they travel with `signet copy` (documented in docs/formats.md). */
export const SIMPLE_SIGNATURE_ARTIFACT_TYPE = 'application/vnd.signet.containers.simple-signature.v1';
export const SIMPLE_SIGNATURE_MEDIA_TYPE = 'application/vnd.signet.containers.simple-signature.v1+pgp';

/** Attaches a simple signature (OpenPGP message) to `subject` in `target` as a referrer. */
export async function attachSimpleSignature(target: Target, subject: Descriptor, signature: Uint8Array): Promise<Descriptor> {
  const layer = descriptorFor(SIMPLE_SIGNATURE_MEDIA_TYPE, signature);
  await target.push(layer, signature);
  await target.push(EMPTY_JSON, Buffer.from('{}'));
  const bytes = encodeManifest({
    schemaVersion: 2,
    mediaType: MediaType.ImageManifest,
    artifactType: SIMPLE_SIGNATURE_ARTIFACT_TYPE,
    config: { ...EMPTY_JSON },
    layers: [layer],
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
  });
  const desc = descriptorFor(MediaType.ImageManifest, bytes);
  await target.push(desc, bytes);
  return desc;
}

/** The simple signatures attached to `subject` as referrers (each fetched and digest-checked). */
export async function simpleSignatureReferrers(target: Target, subject: Descriptor): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (const r of await target.referrers(subject, SIMPLE_SIGNATURE_ARTIFACT_TYPE)) {
    const { manifest } = await fetchManifest(target, r);
    const layer = 'layers' in manifest ? (manifest as ImageManifest).layers.find((l) => l.mediaType === SIMPLE_SIGNATURE_MEDIA_TYPE) : undefined;
    if (layer) out.push(await fetchAll(target, layer, 4 * 1024 * 1024));
  }
  return out;
}

/**
 * Moves simple signatures between lookaside storage and referrers during a copy: signatures the
 * source's lookaside holds are attached to the destination as referrers, and when registries.d
 * names a writable lookaside for the destination, every referrer signature is written there too.
 */
export async function carrySimpleSignatures(src: { target: Target; parsed: Reference }, dst: { target: Target; parsed: Reference }, subject: Descriptor, registriesD: RegistriesD): Promise<{ attached: number; written: number }> {
  let attached = 0;
  let written = 0;
  const have = new Set((await simpleSignatureReferrers(dst.target, subject)).map((s) => Buffer.from(s).toString('base64')));
  if (src.parsed.kind === 'registry') {
    const base = lookasideFor(registriesD, src.parsed.registry, src.parsed.repository);
    for (const sig of base ? await readLookaside(base, src.parsed.repository, subject.digest) : []) {
      if (have.has(Buffer.from(sig).toString('base64'))) continue;
      await attachSimpleSignature(dst.target, subject, sig);
      have.add(Buffer.from(sig).toString('base64'));
      attached++;
    }
  }
  if (dst.parsed.kind === 'registry') {
    const base = lookasideFor(registriesD, dst.parsed.registry, dst.parsed.repository, true);
    if (base?.startsWith('file://')) {
      const existing = new Set((await readLookaside(base, dst.parsed.repository, subject.digest)).map((s) => Buffer.from(s).toString('base64')));
      for (const sig of await simpleSignatureReferrers(dst.target, subject)) {
        if (existing.has(Buffer.from(sig).toString('base64'))) continue;
        await writeLookaside(base, dst.parsed.repository, subject.digest, sig);
        written++;
      }
    }
  }
  return { attached, written };
}
