import { SignetError } from '../../util/index.ts';
import { PAYLOAD_CONTENT_TYPE, type ExtendedAttribute, type SigningScheme } from './types.ts';

export const H = {
  signingScheme: 'io.cncf.notary.signingScheme',
  signingTime: 'io.cncf.notary.signingTime',
  authenticSigningTime: 'io.cncf.notary.authenticSigningTime',
  expiry: 'io.cncf.notary.expiry',
  timestampSignature: 'io.cncf.notary.timestampSignature',
  signingAgent: 'io.cncf.notary.signingAgent',
} as const;

export function malformed(message: string): never {
  throw new SignetError('ENVELOPE_MALFORMED', message);
}

/**
 * The most certificates an envelope's chain (JWS `x5c`, COSE `x5chain`) may carry, refused before
 * any is parsed (docs/security.md): a leaf, intermediates and a root are a handful.
 */
export const MAX_CERTIFICATE_CHAIN = 10;

/** Refuses a chain longer than MAX_CERTIFICATE_CHAIN (before its certificates are parsed). */
export function checkChainLength(length: number, what: string): void {
  if (length > MAX_CERTIFICATE_CHAIN)
    malformed(`${what} has ${length} certificates, at most ${MAX_CERTIFICATE_CHAIN} are accepted`);
}

/** The signed attributes after the format-specific decoding. */
export interface DecodedHeaders {
  crit: string[];
  contentType: unknown;
  signingScheme: unknown;
  signingTime?: Date;
  authenticSigningTime?: Date;
  expiry?: Date;
  extended: ExtendedAttribute[];
}

const NOTARY_HEADERS: ReadonlySet<string> = new Set([H.signingScheme, H.signingTime, H.authenticSigningTime, H.expiry]);

/**
 * The header rules both formats share (notary-spec §3): crit present and a set of present
 * names, the must-be-critical attributes, per-scheme required and forbidden times, expiry after
 * signing time, the payload content type, and no unknown critical attribute.
 */
export function checkHeaders(h: DecodedHeaders, processed: ReadonlySet<string> | 'all'): SigningScheme {
  if (h.crit.length === 0) malformed('the protected header has no crit list');
  if (h.signingScheme !== 'notary.x509' && h.signingScheme !== 'notary.x509.signingAuthority') {
    malformed(
      h.signingScheme === undefined
        ? 'the signing scheme (io.cncf.notary.signingScheme) is missing'
        : `unsupported signing scheme ${JSON.stringify(h.signingScheme)}`
    );
  }
  const scheme = h.signingScheme as SigningScheme;
  const must: string[] = [H.signingScheme];
  if (h.expiry) must.push(H.expiry);
  if (scheme === 'notary.x509.signingAuthority') must.push(H.authenticSigningTime);
  const missing = must.filter((m) => !h.crit.includes(m));
  if (missing.length) malformed(`these required headers are not marked as critical: ${missing.join(', ')}`);
  if (scheme === 'notary.x509') {
    if (h.authenticSigningTime) malformed('authenticSigningTime is not allowed with the notary.x509 signing scheme');
    if (!h.signingTime) malformed('the signing time (io.cncf.notary.signingTime) is missing');
  } else {
    if (h.signingTime) malformed('signingTime is not allowed with the notary.x509.signingAuthority scheme');
    if (!h.authenticSigningTime) malformed('the authentic signing time is missing');
  }
  const signed = h.signingTime ?? h.authenticSigningTime!;
  if (h.expiry && h.expiry.getTime() <= signed.getTime())
    malformed('expiry cannot be equal or before the signing time');
  if (h.contentType !== PAYLOAD_CONTENT_TYPE)
    malformed(`payload content type ${JSON.stringify(h.contentType)} is not ${PAYLOAD_CONTENT_TYPE}`);
  const unknown =
    processed === 'all'
      ? []
      : h.extended.filter((a) => a.critical && !NOTARY_HEADERS.has(a.key) && !processed.has(a.key)).map((a) => a.key);
  if (unknown.length) {
    throw new SignetError(
      'UNKNOWN_CRITICAL',
      `unknown critical attribute${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}: no verifier here processes ${unknown.length > 1 ? 'them' : 'it'}`
    );
  }
  return scheme;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

export function parseRfc3339(value: unknown, what: string): Date {
  if (typeof value !== 'string' || !RFC3339.test(value))
    malformed(`${what} is not an RFC 3339 time: ${JSON.stringify(value)}`);
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) malformed(`${what} is not a valid time: ${value}`);
  return d;
}

/** RFC 3339 in UTC with whole seconds, as notation's signer writes it. */
export function formatRfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function truncateToSeconds(d: Date): Date {
  return new Date(Math.floor(d.getTime() / 1000) * 1000);
}
