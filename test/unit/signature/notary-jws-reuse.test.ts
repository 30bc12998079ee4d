import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { JWS_MEDIA_TYPE, parseEnvelope } from '../../../src/signature/index.ts';
import { refusal } from '../../helpers/errors.ts';

// parseJws remembers x5c entries it has turned into certificates (by the end of their text, confirmed
// by the whole text): a text that differs from a remembered one anywhere is judged afresh.
const V = join(import.meta.dirname, '../../fixtures/notary');
const JWS = readFileSync(join(V, 'jws/ca_valid_sig_env.json'));

function withX5c(edit: (x5c: string[]) => string[]): Uint8Array {
  const env = JSON.parse(JWS.toString('utf8')) as { header: { x5c: string[] } };
  env.header.x5c = edit(env.header.x5c);
  return Buffer.from(JSON.stringify(env));
}

describe('JWS x5c entries seen before', () => {
  it('give the same certificate objects again', () => {
    const a = parseEnvelope(JWS, JWS_MEDIA_TYPE).signerInfo.certificateChain;
    const b = parseEnvelope(new Uint8Array(JWS), JWS_MEDIA_TYPE).signerInfo.certificateChain;
    expect(b.length).toBe(a.length);
    b.forEach((c, i) => expect(c).toBe(a[i]));
  });

  it('are judged afresh when the text differs before the remembered end', () => {
    parseEnvelope(JWS, JWS_MEDIA_TYPE);
    // the same ending, a character outside the base64 alphabet earlier on
    const bad = refusal(() =>
      parseEnvelope(
        withX5c(([l, ...r]) => [`*${l!.slice(1)}`, ...r]),
        JWS_MEDIA_TYPE
      )
    );
    expect(bad.code).toBe('ENVELOPE_MALFORMED');
    expect(bad.message).toBe('x5c[0] is not base64');
    // the same ending, base64 that is not the certificate's DER (its first bytes changed)
    const other = refusal(() =>
      parseEnvelope(
        withX5c(([l, ...r]) => [`AAAA${l!.slice(4)}`, ...r]),
        JWS_MEDIA_TYPE
      )
    );
    expect(other.code).toBe('ENVELOPE_MALFORMED');
    expect(other.message).toMatch(/^x5c\[0\] is not a certificate: /);
    // and the original still parses to the same objects
    expect(parseEnvelope(JWS, JWS_MEDIA_TYPE).signerInfo.certificateChain.length).toBeGreaterThan(0);
  });
});
