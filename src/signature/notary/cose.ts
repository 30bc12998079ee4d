import { createRequire } from 'node:module';
import type { Tag } from 'cbor2';
import { algorithmByCose, certificateFromDer, verifyPrimitive, type AlgorithmInfo } from '../../pki/index.ts';
import { SignetError } from '../../util/index.ts';
import { checkChainLength, H, malformed, type DecodedHeaders } from './headers.ts';
import type { RawEnvelope, RawSignRequest } from './raw.ts';
import { PAYLOAD_CONTENT_TYPE, type ExtendedAttribute } from './types.ts';

// COSE_Sign1 (RFC 9052) is hand-written over cbor2: no maintained COSE library exists for Node,
// and the structure is four CBOR items plus the Sig_structure.
const COSE_SIGN1_TAG = 18;
const ALG = 1;
const CRIT = 2;
const CTY = 3;
const X5CHAIN = 33;
const KNOWN = new Set<unknown>([ALG, CRIT, CTY, H.expiry, H.signingTime, H.signingScheme, H.authenticSigningTime]);

// cbor2 is loaded on first use (synchronously: Node ≥ 20.19 requires an ES module), so that a
// process verifying JWS envelopes only never pays for it.
let cborModule: typeof import('cbor2') | undefined;
function cbor(): typeof import('cbor2') {
  return (cborModule ??= createRequire(import.meta.url)('cbor2') as typeof import('cbor2'));
}

/**
 * The nesting bound of the CBOR decoder, in cbor2's units (a map or tag level counts one, an
 * array level two): a notation envelope is five levels deep, an extended attribute's value a
 * few more. cbor2's default is 1024; its decoder is a chain of nested generators, so each item
 * costs work in proportion to its depth, and a 1 MiB envelope nested that deep is slow to refuse.
 */
export const MAX_CBOR_DEPTH = 64;

// Strict decoding: duplicate keys refused, tag 1 kept as a Tag so its content can be checked,
// nesting bounded (the error names the depth).
const DECODE = {
  preferMap: true,
  rejectDuplicateKeys: true,
  maxDepth: MAX_CBOR_DEPTH,
  tags: new Map([[1, (t: Tag) => t]]),
} as const;

function epoch(d: Date): Tag {
  return new (cbor().Tag)(1, Math.floor(d.getTime() / 1000));
}

/** A plain Uint8Array view: cbor2 would encode a Node Buffer through its toJSON (as a map). */
function bytes(b: Uint8Array): Uint8Array {
  return Buffer.isBuffer(b) ? new Uint8Array(b.buffer, b.byteOffset, b.byteLength) : b;
}

function toBeSigned(protectedBytes: Uint8Array, payload: Uint8Array): Uint8Array {
  return cbor().encode(['Signature1', bytes(protectedBytes), new Uint8Array(0), bytes(payload)]);
}

/** Signs a COSE_Sign1_Tagged envelope with notation's deterministic layout (notary-spec §6). */
export async function signCose(req: RawSignRequest): Promise<Uint8Array> {
  const crit: string[] = [H.signingScheme];
  if (req.signingScheme === 'notary.x509.signingAuthority') crit.push(H.authenticSigningTime);
  if (req.expiry) crit.push(H.expiry);
  crit.push(...req.extendedAttributes.filter((a) => a.critical).map((a) => a.key));
  const prot = new Map<unknown, unknown>([
    [ALG, req.algorithm.cose],
    [CRIT, crit],
    [CTY, PAYLOAD_CONTENT_TYPE],
    [H.signingScheme, req.signingScheme],
    [req.signingScheme === 'notary.x509' ? H.signingTime : H.authenticSigningTime, epoch(req.signingTime)],
  ]);
  if (req.expiry) prot.set(H.expiry, epoch(req.expiry));
  for (const a of req.extendedAttributes) prot.set(a.key, a.value);
  const { encode, cdeEncodeOptions, Tag } = cbor();
  const protectedBytes = encode(prot, cdeEncodeOptions);
  const signature = await req.signer.sign(toBeSigned(protectedBytes, req.payload), req.algorithm.algorithm);
  const unprot = new Map<unknown, unknown>([[X5CHAIN, req.chain.map((c) => new Uint8Array(c.raw))]]);
  if (req.signingAgent) unprot.set(H.signingAgent, req.signingAgent);
  if (req.timestamp) unprot.set(H.timestampSignature, bytes(await req.timestamp(signature, req.algorithm.hash)));
  return encode(
    new Tag(COSE_SIGN1_TAG, [bytes(protectedBytes), unprot, bytes(req.payload), bytes(signature)]),
    cdeEncodeOptions
  );
}

function coseTime(v: unknown, what: string): Date {
  if (!(v instanceof cbor().Tag) || v.tag !== 1 || typeof v.contents !== 'number' || !Number.isInteger(v.contents)) {
    malformed(`${what}: only Tag 1 Datetime CBOR object with an integer is supported`);
  }
  return new Date((v.contents as number) * 1000);
}

/** Parses a COSE_Sign1_Tagged notation envelope without checking its signature. */
export function parseCose(bytes: Uint8Array): RawEnvelope & { protectedBytes: Uint8Array } {
  let top: unknown;
  try {
    top = cbor().decode(bytes, DECODE as never);
  } catch (err) {
    malformed(`COSE envelope is not valid CBOR: ${(err as Error).message}`);
  }
  if (!(top instanceof cbor().Tag) || top.tag !== COSE_SIGN1_TAG)
    malformed('COSE envelope is not a COSE_Sign1_Tagged message (tag 18)');
  const parts = top.contents;
  if (!Array.isArray(parts) || parts.length !== 4) malformed('COSE_Sign1 must be an array of four items');
  const [protectedBytes, unprot, payload, signature] = parts as unknown[];
  if (!(protectedBytes instanceof Uint8Array) || !(payload instanceof Uint8Array) || !(signature instanceof Uint8Array))
    malformed('COSE_Sign1 items have the wrong types');
  if (!(unprot instanceof Map)) malformed('COSE unprotected header is not a map');
  let prot: unknown;
  try {
    prot = cbor().decode(protectedBytes, DECODE as never);
  } catch (err) {
    malformed(`COSE protected header is not valid CBOR: ${(err as Error).message}`);
  }
  if (!(prot instanceof Map)) malformed('COSE protected header is not a map');
  const crit = prot.get(CRIT);
  if (crit !== undefined && (!Array.isArray(crit) || crit.some((c) => typeof c !== 'string')))
    malformed('crit must be an array of text labels');
  for (const name of (crit as string[] | undefined) ?? [])
    if (!prot.has(name)) malformed(`critical header ${name} is not present`);
  const x5 = unprot.get(X5CHAIN);
  if (!Array.isArray(x5) || x5.length === 0) malformed('COSE envelope has no x5chain array');
  checkChainLength(x5.length, 'the COSE certificate chain (x5chain)');
  const chain = x5.map((c, i) => {
    if (!(c instanceof Uint8Array)) malformed(`x5chain[${i}] is not a byte string`);
    try {
      return certificateFromDer(c);
    } catch (err) {
      malformed(`x5chain[${i}] is not a certificate: ${(err as Error).message}`);
    }
  });
  const extended: ExtendedAttribute[] = [...prot.keys()]
    .filter((k) => !KNOWN.has(k))
    .map((k) => ({
      key: String(k),
      value: prot.get(k),
      critical: ((crit as string[] | undefined) ?? []).includes(String(k)),
    }));
  const headers: DecodedHeaders = {
    crit: (crit as string[] | undefined) ?? [],
    contentType: prot.get(CTY),
    signingScheme: prot.get(H.signingScheme),
    extended,
  };
  if (prot.has(H.signingTime)) headers.signingTime = coseTime(prot.get(H.signingTime), 'signingTime');
  if (prot.has(H.authenticSigningTime))
    headers.authenticSigningTime = coseTime(prot.get(H.authenticSigningTime), 'authenticSigningTime');
  if (prot.has(H.expiry)) headers.expiry = coseTime(prot.get(H.expiry), 'expiry');
  const raw: RawEnvelope & { protectedBytes: Uint8Array } = {
    payload,
    signature,
    chain,
    headers,
    algorithmHeader: prot.get(ALG),
    protectedBytes,
  };
  const ts = unprot.get(H.timestampSignature);
  if (ts !== undefined) {
    if (!(ts instanceof Uint8Array)) malformed('timestampSignature is not a byte string');
    raw.timestampSignature = ts;
  }
  const agent = unprot.get(H.signingAgent);
  if (typeof agent === 'string') raw.signingAgent = agent;
  return raw;
}

/** Verifies the COSE signature over the Sig_structure, algorithm pinned to the key's. */
export function verifyCoseSignature(raw: RawEnvelope & { protectedBytes: Uint8Array }, alg: AlgorithmInfo): void {
  if (algorithmByCose(raw.algorithmHeader)?.algorithm !== alg.algorithm) {
    throw new SignetError(
      'ALGORITHM_MISMATCH',
      `mismatch between signature algorithm derived from signing certificate (${alg.cose}) and signing algorithm specified (${String(raw.algorithmHeader)})`
    );
  }
  const key = raw.chain[0]!.publicKey;
  const data = toBeSigned(raw.protectedBytes, raw.payload);
  if (!verifyPrimitive(alg, key, data, raw.signature))
    throw new SignetError(
      'SIGNATURE_INVALID',
      "the envelope signature does not verify with the signing certificate's key"
    );
}
