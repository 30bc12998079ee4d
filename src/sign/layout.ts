import { descriptorFor } from '../oci/index.ts';
import {
  buildLayoutStatement,
  FLATPAK_SIGNATURE_ANNOTATION,
  LAYOUT_SIGNATURE_MEDIA_TYPE,
  signOpenPgp,
} from '../signature/index.ts';
import { LayoutTarget, REF_NAME } from '../store/index.ts';
import { SignetError } from '../util/index.ts';

/**
 * Signs every named entry (or the given refs) of an OCI image layout directory: the signature is
 * a blob of the layout and its digest goes into the entry's `org.flatpak.signature-digest`, so a
 * plain static web server can host a signed repository.
 */
export async function signLayout(
  dir: string,
  options: { armoredKey: string; passphrase?: string; refs?: string[]; now?: Date }
): Promise<Array<{ ref: string; digest: string; signature: string }>> {
  const t = await LayoutTarget.open(dir);
  const out: Array<{ ref: string; digest: string; signature: string }> = [];
  try {
    const index = await t.readIndex();
    const now = Math.floor((options.now ?? new Date()).getTime() / 1000);
    for (const e of index.manifests) {
      const ref = e.annotations?.[REF_NAME];
      if (!ref || (options.refs && !options.refs.includes(ref))) continue;
      const sig = await signOpenPgp(
        buildLayoutStatement({ ref, digest: e.digest, timestamp: now }),
        options.armoredKey,
        options.passphrase
      );
      const desc = descriptorFor(LAYOUT_SIGNATURE_MEDIA_TYPE, sig);
      await t.push(desc, sig);
      await t.annotateRef(ref, { [FLATPAK_SIGNATURE_ANNOTATION]: desc.digest });
      out.push({ ref, digest: e.digest, signature: desc.digest });
    }
  } finally {
    await t.close();
  }
  if (!out.length) throw new SignetError('USAGE', `oci:${dir} has no named entries to sign`);
  return out;
}
