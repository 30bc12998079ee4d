import { descriptorFor, type ImageIndex } from './oci/index.ts';
import { FreshnessState } from './freshness/index.ts';
import { buildLayoutStatement, FLATPAK_SIGNATURE_ANNOTATION, LAYOUT_SIGNATURE_MEDIA_TYPE, parseLayoutStatement, signOpenPgp, verifyOpenPgpMessage } from './signature/index.ts';
import { LayoutTarget, openLayout, REF_NAME } from './store/index.ts';
import { SignetError } from './util/index.ts';

const MAX_SIGNATURE = 1024 * 1024;

/**
 * Signs every named entry (or the given refs) of an OCI image layout directory: the signature is
 * a blob of the layout and its digest goes into the entry's `org.flatpak.signature-digest`, so a
 * plain static web server can host a signed repository.
 */
export async function signLayout(dir: string, options: { armoredKey: string; passphrase?: string; refs?: string[]; now?: Date }): Promise<Array<{ ref: string; digest: string; signature: string }>> {
  const t = await LayoutTarget.open(dir);
  const index = await t.readIndex();
  const now = Math.floor((options.now ?? new Date()).getTime() / 1000);
  const out: Array<{ ref: string; digest: string; signature: string }> = [];
  for (const e of index.manifests) {
    const ref = e.annotations?.[REF_NAME];
    if (!ref || (options.refs && !options.refs.includes(ref))) continue;
    const sig = await signOpenPgp(buildLayoutStatement({ ref, digest: e.digest, timestamp: now }), options.armoredKey, options.passphrase);
    const desc = descriptorFor(LAYOUT_SIGNATURE_MEDIA_TYPE, sig);
    await t.push(desc, sig);
    await t.annotateRef(ref, { [FLATPAK_SIGNATURE_ANNOTATION]: desc.digest });
    out.push({ ref, digest: e.digest, signature: desc.digest });
  }
  await t.close();
  if (!out.length) throw new SignetError('USAGE', `oci:${dir} has no named entries to sign`, { kind: 'usage' });
  return out;
}

export interface LayoutRefVerdict {
  ref: string;
  digest: string;
  verified: boolean;
  reason?: string;
  timestamp?: string;
  signer?: string;
}

/**
 * Verifies a signed layout (directory, tar, or over HTTP): every named entry (or the given refs)
 * must carry a signature by one of `keys` binding that ref to that digest, and must not be older
 * than what this client last accepted for the ref (downgrade protection).
 */
export async function verifyLayout(location: string, options: { keys: Uint8Array[]; refs?: string[]; state?: FreshnessState }): Promise<{ verified: boolean; refs: LayoutRefVerdict[] }> {
  const t = (await openLayout(location)) as unknown as { readIndex(): Promise<ImageIndex>; fetchByDigest(d: string, max: number): Promise<Uint8Array>; close(): Promise<void> };
  const state = options.state ?? new FreshnessState();
  const refs: LayoutRefVerdict[] = [];
  try {
    const index = await t.readIndex();
    for (const e of index.manifests) {
      const ref = e.annotations?.[REF_NAME];
      if (!ref || (options.refs && !options.refs.includes(ref))) continue;
      const v: LayoutRefVerdict = { ref, digest: e.digest, verified: false };
      refs.push(v);
      const sigDigest = e.annotations?.[FLATPAK_SIGNATURE_ANNOTATION];
      if (!sigDigest) {
        v.reason = 'the entry carries no signature (org.flatpak.signature-digest)';
        continue;
      }
      try {
        const sig = await t.fetchByDigest(sigDigest, MAX_SIGNATURE);
        const { data, fingerprint } = await verifyOpenPgpMessage(sig, options.keys);
        const st = parseLayoutStatement(data);
        v.signer = fingerprint;
        v.timestamp = new Date(st.timestamp * 1000).toISOString();
        if (st.ref !== ref) v.reason = `the signature is for ref ${st.ref}, not ${ref}`;
        else if (st.digest !== e.digest) v.reason = `the signature is for ${st.digest}, the entry names ${e.digest}`;
        else {
          await state.accept(fingerprint, ref, st.timestamp, e.digest);
          v.verified = true;
        }
      } catch (err) {
        if (err instanceof SignetError && err.kind === 'inconclusive') throw err;
        v.reason = (err as Error).message;
      }
    }
  } finally {
    await t.close();
  }
  if (options.refs) for (const r of options.refs) if (!refs.some((x) => x.ref === r)) refs.push({ ref: r, digest: '', verified: false, reason: 'no such ref in the layout' });
  return { verified: refs.length > 0 && refs.every((r) => r.verified), refs };
}
