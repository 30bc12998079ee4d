import { SignetError } from '../../util/index.ts';

/**
 * Signed statements for static signed OCI layouts (Flatpak's 2017 design): each index.json entry
 * names its signature blob in `org.flatpak.signature-digest`; the blob is an OpenPGP signed
 * message over a statement binding the entry's ref name to its manifest digest, with a timestamp
 * that lets clients refuse downgrades.
 */
export const FLATPAK_SIGNATURE_ANNOTATION = 'org.flatpak.signature-digest';
export const LAYOUT_SIGNATURE_MEDIA_TYPE = 'application/vnd.signet.layout-signature.v1+pgp';
export const LAYOUT_STATEMENT_TYPE = 'signet layout ref signature';

export interface LayoutStatement {
  ref: string;
  digest: string;
  /** Seconds since the epoch. */
  timestamp: number;
}

export function buildLayoutStatement(s: LayoutStatement): Uint8Array {
  return Buffer.from(
    JSON.stringify({
      critical: { type: LAYOUT_STATEMENT_TYPE, 'ref-name': s.ref, 'manifest-digest': s.digest, timestamp: s.timestamp },
    })
  );
}

export function parseLayoutStatement(bytes: Uint8Array): LayoutStatement {
  let j: { critical?: Record<string, unknown> };
  try {
    j = JSON.parse(Buffer.from(bytes).toString('utf8')) as typeof j;
  } catch {
    throw new SignetError('LAYOUT_SIGNATURE_INVALID', 'the signed statement is not JSON');
  }
  const c = j.critical ?? {};
  if (
    c.type !== LAYOUT_STATEMENT_TYPE ||
    typeof c['ref-name'] !== 'string' ||
    typeof c['manifest-digest'] !== 'string' ||
    typeof c.timestamp !== 'number'
  ) {
    throw new SignetError('LAYOUT_SIGNATURE_INVALID', `the signed statement is not a "${LAYOUT_STATEMENT_TYPE}"`);
  }
  return { ref: c['ref-name'], digest: c['manifest-digest'], timestamp: c.timestamp };
}
