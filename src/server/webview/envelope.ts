import { decode, Tag } from 'cbor2';
import type { Descriptor } from '../../oci/index.ts';
import { describeBundle, isSigstoreBundleType, parseCosignPayload, parseEnvelope } from '../../signature/index.ts';
import { MAX_DECODED_BLOB } from './read.ts';

/**
 * Decodes one signature layer for display, NOT verifying it: a Notary Project JWS (protected
 * header and payload JSON) or COSE envelope (CBOR: protected header labels, payload), a cosign
 * simple-signing payload, else only its media type and size. What Signet's own parsers make of it
 * is shown beside the raw view; a parser's refusal is shown as such.
 */
export interface DecodedLayer {
  format: string;
  sections: Section[];
}

/** A titled block: JSON pretty-printed, or rows of label and value (plain text, escaped by the page). */
export type Section = { title: string; json: unknown } | { title: string; rows: Array<[string, string]> };

const JWS = 'application/jose+json';
const COSE = 'application/cose';
const COSIGN_PAYLOAD = 'application/vnd.dev.cosign.simplesigning.v1+json';
const COSE_LABELS = new Map<unknown, string>([
  [1, 'alg'],
  [2, 'crit'],
  [3, 'content type'],
  [33, 'x5chain'],
]);
const COSE_ALGS = new Map<unknown, string>([
  [-7, 'ES256'],
  [-35, 'ES384'],
  [-36, 'ES512'],
  [-37, 'PS256'],
  [-38, 'PS384'],
  [-39, 'PS512'],
]);
// As the COSE parser decodes: duplicate keys refused, tag 1 (a time) kept as a Tag.
const CBOR_OPTIONS = { preferMap: true, rejectDuplicateKeys: true, tags: new Map([[1, (t: Tag) => t]]) };

const utf8 = (b: Uint8Array): string => Buffer.from(b).toString('utf8');
const jsonOrText = (b: Uint8Array): unknown => {
  try {
    return JSON.parse(utf8(b)) as unknown;
  } catch {
    return utf8(b);
  }
};

/** A CBOR value as one line of text (byte strings by their length, times also as RFC 3339). */
function cborText(v: unknown): string {
  if (v instanceof Tag)
    return v.tag === 1 && typeof v.contents === 'number'
      ? `${new Date(v.contents * 1000).toISOString()} (tag 1: ${v.contents})`
      : `tag ${v.tag}(${cborText(v.contents)})`;
  if (v instanceof Uint8Array) return `${v.length} bytes`;
  if (Array.isArray(v)) return `[${v.map(cborText).join(', ')}]`;
  if (v instanceof Map) return `{${[...v].map(([k, x]) => `${cborText(k)}: ${cborText(x)}`).join(', ')}}`;
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

const label = (k: unknown): string => (COSE_LABELS.has(k) ? `${String(k)} (${COSE_LABELS.get(k)})` : String(k));
const coseRows = (m: Map<unknown, unknown>): Array<[string, string]> =>
  [...m].map(([k, v]) => [label(k), k === 1 && COSE_ALGS.has(v) ? `${String(v)} (${COSE_ALGS.get(v)})` : cborText(v)]);

function decodeJws(bytes: Uint8Array): Section[] {
  const env = JSON.parse(utf8(bytes)) as { protected?: unknown; payload?: unknown; header?: Record<string, unknown> };
  const b64 = (v: unknown): Buffer => Buffer.from(typeof v === 'string' ? v : '', 'base64url');
  const header = { ...env.header };
  if (Array.isArray(header.x5c)) header.x5c = `${header.x5c.length} certificate(s), listed below`;
  return [
    { title: 'Protected header', json: jsonOrText(b64(env.protected)) },
    { title: 'Unprotected header', json: header },
    { title: 'Payload', json: jsonOrText(b64(env.payload)) },
  ];
}

function decodeCose(bytes: Uint8Array): Section[] {
  const top = decode(bytes, CBOR_OPTIONS as never);
  if (!(top instanceof Tag) || top.tag !== 18 || !Array.isArray(top.contents) || top.contents.length !== 4)
    throw new Error('not a COSE_Sign1_Tagged message (tag 18 over four items)');
  const [prot, unprot, payload] = top.contents as unknown[];
  const protMap = prot instanceof Uint8Array && prot.length ? decode(prot, CBOR_OPTIONS as never) : new Map();
  if (!(protMap instanceof Map) || !(unprot instanceof Map)) throw new Error('COSE headers are not maps');
  return [
    { title: 'Protected header (labels)', rows: coseRows(protMap) },
    { title: 'Unprotected header (labels)', rows: coseRows(unprot) },
    { title: 'Payload', json: payload instanceof Uint8Array ? jsonOrText(payload) : cborText(payload) },
  ];
}

/** What Signet's envelope parser reads from it (structure and header rules checked, signature not). */
function notaryParsed(bytes: Uint8Array, mediaType: string): Section {
  const title = 'As Signet parses it (not verified)';
  try {
    const c = parseEnvelope(bytes, mediaType, { allowUnknownCritical: true, maxSize: MAX_DECODED_BLOB });
    const si = c.signerInfo;
    const r: Array<[string, string]> = [
      ['signing scheme', si.signingScheme],
      ['signature algorithm', si.signatureAlgorithm],
    ];
    const t = si.signingTime ?? si.authenticSigningTime;
    if (t) r.push(['signing time', t.toISOString()]);
    if (si.expiry) r.push(['expiry', si.expiry.toISOString()]);
    if (si.signingAgent) r.push(['signing agent', si.signingAgent]);
    r.push(['timestamped', si.timestampSignature ? 'yes (RFC 3161 countersignature)' : 'no']);
    r.push(['signed artifact', `${c.targetArtifact.mediaType} ${c.targetArtifact.digest}`]);
    si.certificateChain.forEach((x, i) => {
      const subject = x.subject.split('\n').reverse().join(', ');
      r.push([`certificate ${i}`, `${subject} (valid ${x.validFrom} – ${x.validTo})`]);
    });
    return { title, rows: r };
  } catch (err) {
    return { title, rows: [['refused', (err as Error).message]] };
  }
}

function decodeCosign(bytes: Uint8Array, layer: Descriptor): Section[] {
  const sections: Section[] = [{ title: 'Simple-signing payload', json: jsonOrText(bytes) }];
  const title = 'As Signet parses it (not verified)';
  try {
    const p = parseCosignPayload(bytes);
    sections.push({
      title,
      rows: [
        ['docker-reference', p.dockerReference],
        ['docker-manifest-digest', p.digest],
      ],
    });
  } catch (err) {
    sections.push({ title, rows: [['refused', (err as Error).message]] });
  }
  const annotations = Object.entries(layer.annotations ?? {}).map(([k, v]): [string, string] => [
    k,
    v.length > 120 ? `${v.slice(0, 120)}… (${v.length} characters)` : v,
  ]);
  if (annotations.length) sections.push({ title: 'Layer annotations', rows: annotations });
  return sections;
}

/** Whether the web view decodes layers of this media type (the others are not read). */
export const isDecodable = (mediaType: string): boolean =>
  [JWS, COSE, COSIGN_PAYLOAD].includes(mediaType) || isSigstoreBundleType(mediaType);

/** Decodes `bytes` (checked against `layer` by the caller); null: too large to decode; undefined: not read. */
export function decodeLayer(layer: Descriptor, bytes?: Uint8Array | null): DecodedLayer {
  const facts: Section = {
    title: 'Layer',
    rows: [
      ['media type', layer.mediaType],
      ['digest', layer.digest],
      ['size', `${layer.size} bytes`],
    ],
  };
  if (bytes === null)
    return {
      format: 'not decoded',
      sections: [facts, { title: 'Too large', rows: [['limit', `${MAX_DECODED_BLOB} bytes`]] }],
    };
  if (bytes === undefined) return { format: 'not decoded', sections: [facts] };
  try {
    if (layer.mediaType === JWS)
      return { format: 'Notary Project JWS', sections: [facts, ...decodeJws(bytes), notaryParsed(bytes, JWS)] };
    if (layer.mediaType === COSE)
      return { format: 'Notary Project COSE', sections: [facts, ...decodeCose(bytes), notaryParsed(bytes, COSE)] };
    if (layer.mediaType === COSIGN_PAYLOAD)
      return { format: 'cosign simple signing', sections: [facts, ...decodeCosign(bytes, layer)] };
    if (isSigstoreBundleType(layer.mediaType)) {
      const b = describeBundle(bytes);
      const rows: Array<[string, string]> = [
        ['bundle media type', b.mediaType],
        ['content', b.content],
        ...(b.predicateType ? [['predicate type', b.predicateType] as [string, string]] : []),
        ['signer', b.signer],
        ...(b.certificateIssuer ? [['certificate issuer', b.certificateIssuer] as [string, string]] : []),
        ...(b.certificateValidity
          ? [
              ['certificate validity', `${b.certificateValidity.notBefore} to ${b.certificateValidity.notAfter}`] as [
                string,
                string,
              ],
            ]
          : []),
        ['transparency log entries', String(b.tlogEntries)],
        ['RFC 3161 timestamps', String(b.timestamps)],
      ];
      return {
        format: 'Sigstore bundle',
        sections: [
          facts,
          { title: 'Bundle (decoded, not verified)', rows },
          { title: 'JSON', json: JSON.parse(Buffer.from(bytes).toString('utf8')) as unknown },
        ],
      };
    }
  } catch (err) {
    return {
      format: 'undecodable',
      sections: [facts, { title: 'Error', rows: [['decoding', (err as Error).message]] }],
    };
  }
  return { format: 'not decoded', sections: [facts] };
}
