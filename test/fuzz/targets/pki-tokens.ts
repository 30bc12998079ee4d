/**
 * Signed PKI tokens: RFC 3161 timestamp tokens (verifyTimestampToken), CRLs (checkRevocation over
 * an offline bundle) and OCSP responses (checkRevocation over a cached response, offline).
 */
import { randomBytes, type X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import fc from 'fast-check';
import * as pkijs from 'pkijs';
import {
  checkRevocation,
  requestTimestamp,
  verifyTimestampToken,
  type RevocationCache,
} from '../../../src/pki/index.ts';
import { startRevocationPki, type RevocationPki } from '../../helpers/revocation.ts';
import { startTsa, type Tsa } from '../../helpers/tsa.ts';
import { expectModel, OracleViolation, type FuzzTarget } from '../harness.ts';
import { mutatedBytes, seedsOf } from '../mutate.ts';

const hex = (b: ArrayBuffer | Uint8Array): string =>
  Buffer.from(b instanceof Uint8Array ? b : new Uint8Array(b)).toString('hex');

/** Mutations of DER seeds, and the seeds wrapped in PEM-like or truncated framings. */
function derInputs(seeds: Uint8Array[]): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    { weight: 8, arbitrary: mutatedBytes(seeds) },
    { weight: 1, arbitrary: seedsOf(seeds) },
    {
      weight: 1,
      arbitrary: fc.uint8Array({ maxLength: 64 }).map((b) => Uint8Array.of(0x30, 0x84, 0xff, 0xff, 0xff, 0xff, ...b)),
    }
  );
}

// --- RFC 3161 ----------------------------------------------------------------------------------

interface TspCtx {
  tsa: Tsa;
  signature: Uint8Array;
  seeds: Uint8Array[];
  /** The signed TSTInfo of each seed: a token that verifies must carry one of them. */
  tstInfos: Set<string>;
}

function tstInfoOf(token: Uint8Array): string {
  const ci = pkijs.ContentInfo.fromBER(token);
  const sd = new pkijs.SignedData({ schema: ci.content });
  return hex(sd.encapContentInfo.eContent!.getValue());
}

export const tsp: FuzzTarget<TspCtx> = {
  name: 'rfc3161',
  description: 'RFC 3161 timestamp tokens (verifyTimestampToken against the TSA root)',
  weight: 2,
  async setup() {
    const tsa = await startTsa();
    try {
      const signature = new Uint8Array(randomBytes(64));
      const seeds = [
        await requestTimestamp(tsa.url, signature, 'SHA-256', [tsa.root]),
        await requestTimestamp(tsa.url, signature, 'SHA-384', [tsa.root]),
      ];
      return { tsa, signature, seeds, tstInfos: new Set(seeds.map(tstInfoOf)) };
    } catch (err) {
      await tsa.close();
      throw err;
    }
  },
  teardown: (ctx) => ctx.tsa.close(),
  arbitrary: (ctx) => derInputs(ctx.seeds),
  async run(ctx, input) {
    const info = await verifyTimestampToken(input, ctx.signature, [ctx.tsa.root]);
    expectModel(info.genTime instanceof Date && !Number.isNaN(info.genTime.getTime()), 'genTime');
    expectModel(Number.isFinite(info.accuracyMs) && info.accuracyMs >= 0, `accuracy ${info.accuracyMs}`);
    expectModel(Array.isArray(info.chain) && info.chain.length > 0, 'chain');
    let signed: string;
    try {
      signed = tstInfoOf(input);
    } catch (err) {
      throw new OracleViolation(`a token that verifies and does not parse again: ${(err as Error).message}`);
    }
    if (!ctx.tstInfos.has(signed)) throw new OracleViolation('a token with a mutated TSTInfo verifies');
  },
};

// --- CRL and OCSP ------------------------------------------------------------------------------

interface RevCtx {
  pki: RevocationPki;
  /** crl: leaf (names only a CRL) + root; ocsp: leaf (names the responder) + root. */
  crlChain: X509Certificate[];
  ocspChain: X509Certificate[];
  crlSeeds: Uint8Array[];
  ocspSeeds: Uint8Array[];
  ocspKey: string;
}

async function revocationSetup(): Promise<RevCtx> {
  const pki = await startRevocationPki();
  try {
    const crlChain = await pki.crlRevoked.certificateChain();
    const ocspChain = await pki.revoked.certificateChain();
    const crlSeeds = [new Uint8Array(await readFile(pki.crlFile))];
    // one online check through a recording cache yields the responder's real OCSP response
    const recorded = new Map<string, Uint8Array>();
    const recorder: RevocationCache = {
      get: async () => undefined,
      set: async (key, data) => void recorded.set(key, data),
    };
    await checkRevocation(ocspChain, { cache: recorder });
    const ocspKey = [...recorded.keys()].find((k) => k.startsWith('ocsp|'));
    if (!ocspKey) throw new Error(`no OCSP response recorded (${[...recorded.keys()].join(', ')})`);
    return { pki, crlChain, ocspChain, crlSeeds, ocspSeeds: [recorded.get(ocspKey)!], ocspKey };
  } catch (err) {
    await pki.close();
    throw err;
  }
}

const STATES = ['good', 'revoked', 'unknown', 'unavailable'];

export const crl: FuzzTarget<RevCtx> = {
  name: 'crl',
  description: 'CRLs (checkRevocation, offline, the CRL bundled) for a leaf the CRL revokes',
  weight: 2,
  setup: revocationSetup,
  teardown: (ctx) => ctx.pki.close(),
  arbitrary: (ctx) => derInputs(ctx.crlSeeds),
  async run(ctx, input) {
    const r = await checkRevocation(ctx.crlChain, { offline: true, bundle: [input] });
    expectModel(STATES.includes(r.status), `status ${String(r.status)}`);
    // the seed revokes the leaf: a mutation may make the CRL unusable, never make the leaf good
    if (r.status === 'good') throw new OracleViolation(`a mutated CRL makes a revoked leaf good: ${r.message ?? ''}`);
  },
};

export const ocsp: FuzzTarget<RevCtx> = {
  name: 'ocsp',
  description: 'OCSP responses (checkRevocation, offline, the response cached) for a leaf the responder revokes',
  weight: 2,
  setup: revocationSetup,
  teardown: (ctx) => ctx.pki.close(),
  arbitrary: (ctx) => derInputs(ctx.ocspSeeds),
  async run(ctx, input) {
    const cache: RevocationCache = {
      get: async (key) => (key === ctx.ocspKey ? input : undefined),
      set: async () => undefined,
    };
    const r = await checkRevocation(ctx.ocspChain, { offline: true, cache });
    expectModel(STATES.includes(r.status), `status ${String(r.status)}`);
    if (r.status === 'good')
      throw new OracleViolation(`a mutated OCSP response makes a revoked leaf good: ${r.message ?? ''}`);
  },
};
