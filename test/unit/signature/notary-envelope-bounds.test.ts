import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decode, encode, Tag } from 'cbor2';
import { COSE_MEDIA_TYPE, JWS_MEDIA_TYPE, parseEnvelope } from '../../../src/signature/index.ts';
import { refusal } from '../../helpers/errors.ts';

/** Issue 13: resource bounds of Notary Project envelopes (docs/security.md). */
const V = join(import.meta.dirname, '../../fixtures/notary');
const JWS = readFileSync(join(V, 'jws/ca_valid_sig_env.json'));
const COSE = readFileSync(join(V, 'cose/alpine_oci_layout.cose.sig'));

/** The COSE fixture, its unprotected header (and protected header map) edited. */
function cose(edit: {
  unprotected?: (m: Map<unknown, unknown>) => void;
  protected?: (m: Map<unknown, unknown>) => void;
}) {
  const top = decode(new Uint8Array(COSE), { preferMap: true }) as Tag;
  const [prot, unprot, payload, sig] = top.contents as [Uint8Array, Map<unknown, unknown>, Uint8Array, Uint8Array];
  edit.unprotected?.(unprot);
  let protBytes = prot;
  if (edit.protected) {
    const m = decode(new Uint8Array(prot), { preferMap: true }) as Map<unknown, unknown>;
    edit.protected(m);
    protBytes = encode(m);
  }
  return encode(new Tag(18, [protBytes, unprot, payload, sig]));
}

/** A CBOR value nested `depth` arrays deep. */
const nested = (depth: number): unknown => {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
};

describe('Notary envelope bounds', () => {
  it('the fixtures parse (the edits below are what is refused)', () => {
    expect(parseEnvelope(JWS, JWS_MEDIA_TYPE).signerInfo.certificateChain.length).toBeGreaterThan(0);
    expect(parseEnvelope(COSE, COSE_MEDIA_TYPE).signerInfo.certificateChain.length).toBeGreaterThan(0);
    expect(parseEnvelope(cose({ unprotected: (m) => m.set('io.example', nested(20)) }), COSE_MEDIA_TYPE)).toBeTruthy();
  });

  it('refuses a JWS x5c of more than 10 certificates before parsing them', () => {
    const env = JSON.parse(JWS.toString('utf8')) as { header: { x5c: string[] } };
    const leaf = env.header.x5c[0]!;
    env.header.x5c = Array.from({ length: 11 }, () => leaf);
    const err = refusal(() => parseEnvelope(Buffer.from(JSON.stringify(env)), JWS_MEDIA_TYPE));
    expect(err.code).toBe('ENVELOPE_MALFORMED');
    expect(err.message).toMatch(/11 certificates.*at most 10/);
    // before parsing: an eleventh entry that is not even a certificate is refused for the length
    env.header.x5c = [...Array.from({ length: 10 }, () => leaf), 'not a certificate'];
    expect(refusal(() => parseEnvelope(Buffer.from(JSON.stringify(env)), JWS_MEDIA_TYPE)).message).toMatch(
      /at most 10/
    );
  });

  it('refuses a COSE x5chain of more than 10 certificates', () => {
    const env = cose({
      unprotected: (m) => {
        const chain = m.get(33) as Uint8Array[];
        m.set(
          33,
          Array.from({ length: 11 }, () => chain[0]!)
        );
      },
    });
    const err = refusal(() => parseEnvelope(env, COSE_MEDIA_TYPE));
    expect(err.code).toBe('ENVELOPE_MALFORMED');
    expect(err.message).toMatch(/11 certificates.*at most 10/);
  });

  it.each([
    ['the unprotected header', { unprotected: (m: Map<unknown, unknown>) => m.set('io.example', nested(200)) }],
    ['the protected header', { protected: (m: Map<unknown, unknown>) => m.set('io.example', nested(200)) }],
  ])('refuses CBOR nested deeper than the bound in %s', (_, edit) => {
    const err = refusal(() => parseEnvelope(cose(edit), COSE_MEDIA_TYPE));
    expect(err.code).toBe('ENVELOPE_MALFORMED');
    expect(err.message).toMatch(/depth/i);
  });
});
