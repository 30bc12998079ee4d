/** X.509: certificate chains in DER and PEM (parseCertificates, certInfo, validateCodeSigningChain). */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { certInfo, parseCertificates, validateCodeSigningChain } from '../../../src/pki/index.ts';
import { expectModel, FIXTURES, type FuzzTarget } from '../harness.ts';
import { bytes, mutatedBytes, seedsOf } from '../mutate.ts';

interface X509Ctx {
  seeds: Uint8Array[];
}

export const x509: FuzzTarget<X509Ctx> = {
  name: 'x509',
  description: 'X.509 certificates and chains, PEM and DER (parseCertificates → certInfo, validateCodeSigningChain)',
  async setup() {
    const pems = readdirSync(join(FIXTURES, 'notary/certs')).map((f) =>
      readFileSync(join(FIXTURES, 'notary/certs', f), 'utf8')
    );
    const seeds: Uint8Array[] = [];
    for (const p of pems) {
      seeds.push(bytes(p));
      const b64 = /-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/.exec(p)?.[1];
      if (b64) seeds.push(new Uint8Array(Buffer.from(b64.replace(/\s/g, ''), 'base64')));
    }
    seeds.push(bytes(pems.join('\n')));
    return { seeds };
  },
  arbitrary: (ctx) =>
    fc.oneof(
      { weight: 6, arbitrary: mutatedBytes(ctx.seeds) },
      // PEM framing around mutated DER
      {
        weight: 2,
        arbitrary: mutatedBytes(ctx.seeds.filter((s) => s[0] === 0x30)).map((der) =>
          bytes(`-----BEGIN CERTIFICATE-----\n${Buffer.from(der).toString('base64')}\n-----END CERTIFICATE-----\n`)
        ),
      },
      { weight: 1, arbitrary: seedsOf(ctx.seeds) }
    ),
  run(_ctx, input) {
    const chain = parseCertificates(input);
    expectModel(chain.length > 0, 'no certificate in a successful parse');
    for (const c of chain) {
      const info = certInfo(c);
      expectModel(info !== undefined, 'certInfo');
    }
    validateCodeSigningChain(chain);
  },
};
