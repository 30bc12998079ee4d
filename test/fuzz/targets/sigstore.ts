/** Sigstore bundles: describeBundle (ls, inspect, web view) and verifySigstoreBundle (keyless, with a trusted root). */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { describeBundle } from '../../../src/signature/sigstore/describe.ts';
import { parseTrustedRoot, verifySigstoreBundle, type SigstorePolicy } from '../../../src/verify/families/sigstore.ts';
import { startSigstoreMock, type SigstoreMock } from '../../helpers/sigstore-mock.ts';
import { expectModel, isCodedSignetError, OracleViolation, type FuzzTarget } from '../harness.ts';
import { jsonInputs } from '../mutate.ts';

const SUBJECT = 'fuzz@example.com';
const ISSUER = 'https://issuer.example.com';
const ARTIFACT = Buffer.from('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}');
const DIGEST = `sha256:${createHash('sha256').update(ARTIFACT).digest('hex')}`;
const STATEMENT = Buffer.from(
  JSON.stringify({
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ name: 'artifact', digest: { sha256: DIGEST.slice(7) } }],
    predicateType: 'https://slsa.dev/provenance/v1',
    predicate: {},
  })
);

interface SigstoreCtx {
  mock: SigstoreMock;
  seeds: unknown[];
  policy: SigstorePolicy;
  /** What a verifying bundle must carry: the seeds' signatures and signed content. */
  signed: Set<string>;
}

const load = createRequire(import.meta.url);
const bundleLib = (): typeof import('@sigstore/bundle') =>
  load('@sigstore/bundle') as typeof import('@sigstore/bundle');

/** The signature and the signed content of a bundle: a verifying mutation must leave them as a seed had them. */
function signedPart(json: unknown): string {
  const b = bundleLib().bundleFromJSON(json);
  const c = b.content;
  const hex = (u: Uint8Array): string => Buffer.from(u).toString('hex');
  return c.$case === 'dsseEnvelope'
    ? `dsse ${c.dsseEnvelope.payloadType} ${hex(c.dsseEnvelope.payload)} ${c.dsseEnvelope.signatures.map((s) => hex(s.sig)).join(',')}`
    : `message ${hex(c.messageSignature.messageDigest?.digest ?? new Uint8Array())} ${hex(c.messageSignature.signature)}`;
}

async function seeded(mock: SigstoreMock): Promise<SigstoreCtx> {
  const id = { subject: SUBJECT, issuer: ISSUER };
  const seeds = [
    await mock.sign(ARTIFACT, { ...id }),
    await mock.sign(ARTIFACT, { ...id, tsa: true }),
    await mock.sign(STATEMENT, { ...id, dsse: 'application/vnd.in-toto+json' }),
    await mock.sign(ARTIFACT, { ...id, rekorV2: true, tsa: true }),
  ].map((b) => JSON.parse(JSON.stringify(b)) as unknown);
  const trustedRoot = parseTrustedRoot(new Uint8Array(Buffer.from(JSON.stringify(mock.trustedRoot))));
  const policy: SigstorePolicy = { keys: [], identities: [id], trustedRoot };
  const signed = new Set(seeds.map(signedPart));
  const ctx: SigstoreCtx = { mock, seeds, policy, signed };
  // the seeds must verify, or the oracle's "never passes when mutated" would prove nothing
  for (const s of seeds) {
    const v = verifySigstoreBundle({
      bundle: new Uint8Array(Buffer.from(JSON.stringify(s))),
      digest: DIGEST,
      artifact: ARTIFACT,
      policy,
      requirement: 'fuzz',
    });
    if (v.verdict !== 'verified') throw new Error(`a seed bundle does not verify: ${JSON.stringify(v.checks)}`);
  }
  return ctx;
}

export const sigstoreBundle: FuzzTarget<SigstoreCtx> = {
  name: 'sigstore-bundle',
  description: 'Sigstore bundles v0.1–v0.3 (describeBundle; verifySigstoreBundle keyless with the mock trusted root)',
  weight: 4,
  async setup() {
    const mock = await startSigstoreMock();
    try {
      return await seeded(mock);
    } catch (err) {
      await mock.close();
      throw err;
    }
  },
  teardown: (ctx) => ctx.mock.close(),
  arbitrary: (ctx) => jsonInputs(ctx.seeds),
  run(ctx, input) {
    let described = true;
    try {
      const d = describeBundle(input);
      expectModel(typeof d.mediaType === 'string' && typeof d.content === 'string', 'mediaType/content');
      expectModel(typeof d.signer === 'string', 'signer');
      expectModel(Number.isInteger(d.tlogEntries) && Number.isInteger(d.timestamps), 'counts');
    } catch (err) {
      described = false;
      if (!isCodedSignetError(err)) throw err;
    }
    const v = verifySigstoreBundle({
      bundle: input,
      digest: DIGEST,
      artifact: ARTIFACT,
      policy: ctx.policy,
      requirement: 'fuzz',
    });
    expectModel(['verified', 'failed', 'inconclusive'].includes(v.verdict), `verdict ${String(v.verdict)}`);
    expectModel(Array.isArray(v.checks) && v.checks.length > 0, 'no checks');
    if (v.verdict === 'verified') {
      expectModel(described, 'a bundle that verifies and that describeBundle refuses');
      const part = signedPart(JSON.parse(Buffer.from(input).toString('utf8')));
      if (!ctx.signed.has(part)) throw new OracleViolation(`a mutated bundle verifies: ${part.slice(0, 200)}`);
    }
  },
};
