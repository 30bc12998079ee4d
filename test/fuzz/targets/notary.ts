/** Notary Project envelopes: JWS (JSON) and COSE (CBOR), through verifyEnvelopeIntegrity. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decode } from 'cbor2';
import fc from 'fast-check';
import { COSE_MEDIA_TYPE, JWS_MEDIA_TYPE, verifyEnvelopeIntegrity } from '../../../src/signature/index.ts';
import { expectModel, FIXTURES, OracleViolation, type FuzzTarget } from '../harness.ts';
import { mutatedBytes, mutatedJson, seedsOf } from '../mutate.ts';

/** What the signature covers, in a form two encodings of the same signed bytes share. */
function jwsCore(input: Uint8Array): string {
  const j = JSON.parse(Buffer.from(input).toString('utf8')) as {
    protected: string;
    payload: string;
    signature: string;
  };
  return `${j.protected}.${j.payload}.${j.signature}`;
}

function coseCore(input: Uint8Array): string {
  const v = decode(input) as { contents?: unknown[] } | unknown[];
  const arr = (Array.isArray(v) ? v : (v as { contents?: unknown[] }).contents) ?? [];
  const hex = (x: unknown): string => (x instanceof Uint8Array ? Buffer.from(x).toString('hex') : String(x));
  return `${hex(arr[0])}.${hex(arr[2])}.${hex(arr[3])}`;
}

interface EnvCtx {
  seeds: Uint8Array[];
  cores: Set<string>;
}

function envelopeTarget(
  name: string,
  mediaType: string,
  files: string[],
  core: (b: Uint8Array) => string,
  json: boolean
): FuzzTarget<EnvCtx> {
  return {
    name,
    description: `${mediaType} envelopes (verifyEnvelopeIntegrity): a pass needs the signed bytes intact`,
    async setup() {
      const seeds = files.map((f) => new Uint8Array(readFileSync(f)));
      const cores = new Set(seeds.map(core));
      return { seeds, cores };
    },
    arbitrary: (ctx) =>
      fc.oneof(
        { weight: 5, arbitrary: mutatedBytes(ctx.seeds) },
        ...(json
          ? [
              {
                weight: 5,
                arbitrary: mutatedJson(ctx.seeds.map((s) => JSON.parse(Buffer.from(s).toString('utf8')) as unknown)),
              },
            ]
          : []),
        { weight: 1, arbitrary: seedsOf(ctx.seeds) }
      ),
    async run(ctx, input) {
      const content = await verifyEnvelopeIntegrity(input, mediaType, { allowUnknownCritical: true });
      expectModel(content.signerInfo.certificateChain.length > 0, 'certificate chain');
      expectModel(typeof content.targetArtifact.digest === 'string', 'targetArtifact');
      let c: string;
      try {
        c = core(input);
      } catch {
        throw new OracleViolation('integrity passed over an envelope whose signed parts cannot even be read');
      }
      if (!ctx.cores.has(c)) throw new OracleViolation('integrity passed, but the signed bytes differ from every seed');
    },
  };
}

const dir = (d: string): string[] =>
  readdirSync(join(FIXTURES, 'notary', d)).map((f) => join(FIXTURES, 'notary', d, f));

export const jws = envelopeTarget('jws', JWS_MEDIA_TYPE, dir('jws'), jwsCore, true);
export const cose = envelopeTarget('cose', COSE_MEDIA_TYPE, dir('cose'), coseCore, false);
