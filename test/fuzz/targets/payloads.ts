/** Signed payloads: containers simple signing and cosign simple signing (JSON). */
import fc from 'fast-check';
import {
  buildCosignPayload,
  buildSimplePayload,
  parseCosignPayload,
  parseSimplePayload,
} from '../../../src/signature/index.ts';
import { expectModel, type FuzzTarget } from '../harness.ts';
import { jsonInputs } from '../mutate.ts';

const DIGEST = `sha256:${'a'.repeat(64)}`;

function isPlainObject(v: unknown): boolean {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export const simplePayload: FuzzTarget<{ seeds: unknown[] }> = {
  name: 'simple-payload',
  description: 'containers simple-signing payloads (parseSimplePayload)',
  setup: async () => ({
    seeds: [
      JSON.parse(
        Buffer.from(buildSimplePayload('registry.example.com/app:v1', DIGEST, new Date(0))).toString('utf8')
      ) as unknown,
    ],
  }),
  arbitrary: (ctx) => jsonInputs(ctx.seeds, [fc.constant(new Uint8Array(0))]),
  run(_ctx, input) {
    const p = parseSimplePayload(input);
    expectModel(typeof p.dockerManifestDigest === 'string' && typeof p.dockerReference === 'string', 'critical fields');
    expectModel(isPlainObject(p.optional), `optional is ${typeof p.optional}`);
  },
};

export const cosignPayload: FuzzTarget<{ seeds: unknown[] }> = {
  name: 'cosign-payload',
  description: 'cosign simple-signing payloads (parseCosignPayload)',
  setup: async () => ({
    seeds: [
      JSON.parse(
        Buffer.from(buildCosignPayload('registry.example.com/app', DIGEST, { a: 'b' })).toString('utf8')
      ) as unknown,
    ],
  }),
  arbitrary: (ctx) => jsonInputs(ctx.seeds),
  run(_ctx, input) {
    const p = parseCosignPayload(input);
    expectModel(typeof p.digest === 'string' && typeof p.dockerReference === 'string', 'critical fields');
    expectModel(p.optional === null || isPlainObject(p.optional), `optional is ${typeof p.optional}`);
  },
};
