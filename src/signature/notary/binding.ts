/**
 * Layer A of freshness (docs/freshness.md): the name binding and sequence Signet signs into every
 * Notary Project signature it makes. They are ordinary entries of the payload's
 * `targetArtifact.annotations` — where notation puts its user metadata (`notation sign -m k=v`) —
 * so they are signed, travel with the signature, and plain notation still verifies it (and can
 * require them with `--user-metadata`).
 */

/** The logical name (registry-independent), e.g. `acme/app`. */
export const NAME_ANNOTATION = 'dev.signet.name';
/** The tag being published (absent for a digest-only signature). */
export const TAG_ANNOTATION = 'dev.signet.tag';
/** Per (name, tag) strictly increasing integer, as a decimal string. */
export const SEQ_ANNOTATION = 'dev.signet.seq';
/** The signer's time, RFC 3339 (informational). */
export const ISSUED_ANNOTATION = 'dev.signet.issued';
/** Every annotation of the binding: user metadata may not set them (`-m dev.signet.…` is refused). */
export const BINDING_PREFIX = 'dev.signet.';

export interface NameBinding {
  name: string;
  tag?: string;
  seq?: number;
  issued?: string;
}

/** A decimal string of a non-negative safe integer, nothing else (no sign, no exponent, no leading zeros). */
export function parseSeq(value: string | undefined): number | undefined {
  if (value === undefined || !/^(0|[1-9][0-9]{0,15})$/.test(value)) return undefined;
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** The binding a payload descriptor carries, or undefined when it names no logical name. */
export function readBinding(annotations: Record<string, string> | undefined): NameBinding | undefined {
  const name = annotations?.[NAME_ANNOTATION];
  if (!name) return undefined;
  const b: NameBinding = { name };
  const tag = annotations[TAG_ANNOTATION];
  if (tag) b.tag = tag;
  const seq = parseSeq(annotations[SEQ_ANNOTATION]);
  if (seq !== undefined) b.seq = seq;
  const issued = annotations[ISSUED_ANNOTATION];
  if (issued) b.issued = issued;
  return b;
}

/** The annotations of a binding, as they are signed. */
export function bindingAnnotations(b: NameBinding): Record<string, string> {
  const out: Record<string, string> = { [NAME_ANNOTATION]: b.name };
  if (b.tag) out[TAG_ANNOTATION] = b.tag;
  if (b.seq !== undefined) out[SEQ_ANNOTATION] = String(b.seq);
  if (b.issued) out[ISSUED_ANNOTATION] = b.issued;
  return out;
}
