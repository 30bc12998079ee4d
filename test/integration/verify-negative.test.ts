import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { constants, sign as cryptoSign, type KeyObject, type X509Certificate } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encode, Tag } from 'cbor2';
import { descriptorFor, EMPTY_JSON, MediaType, type Descriptor } from '../../src/oci/index.ts';
import { toPem } from '../../src/pki/index.ts';
import {
  COSE_MEDIA_TYPE,
  JWS_MEDIA_TYPE,
  signatureManifest,
  signEnvelope,
  signPayload,
  buildPayload,
} from '../../src/signature/index.ts';
import { LayoutTarget } from '../../src/store/index.ts';
import { pushArtifact } from '../helpers/artifacts.ts';
import { makeChain, type TestChain } from '../helpers/pki.ts';
import { runSignet } from '../helpers/serve.ts';

const DAY = 86_400_000;
const b64u = (b: Uint8Array | string): string => Buffer.from(b).toString('base64url');

/** A JWS over any protected header, signed with `key` (for forged alg / header cases). */
function forgeJws(
  header: Record<string, unknown>,
  payload: Uint8Array,
  key: KeyObject,
  chain: X509Certificate[],
  how: 'ec' | 'none' = 'ec'
): Buffer {
  const p = b64u(JSON.stringify(header));
  const pl = b64u(payload);
  const sig =
    how === 'none'
      ? Buffer.alloc(0)
      : cryptoSign('sha256', Buffer.from(`${p}.${pl}`), { key, dsaEncoding: 'ieee-p1363' });
  return Buffer.from(
    JSON.stringify({
      payload: pl,
      protected: p,
      header: { x5c: chain.map((c) => Buffer.from(c.raw).toString('base64')) },
      signature: b64u(sig),
    })
  );
}

function baseHeader(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    alg: 'ES256',
    crit: ['io.cncf.notary.signingScheme'],
    cty: 'application/vnd.cncf.notary.payload.v1+json',
    'io.cncf.notary.signingScheme': 'notary.x509',
    'io.cncf.notary.signingTime': new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    ...extra,
  };
}

describe('signet verify refuses, with exit code 1 (2 for a malformed policy document) and the reason', () => {
  let work: string;
  let good: TestChain;
  let store: string;
  let basePolicy: Record<string, unknown>;
  let n = 0;

  const policyFile = async (doc: unknown): Promise<string> => {
    const p = join(work, `policy-${n++}.json`);
    await writeFile(p, JSON.stringify(doc));
    return p;
  };

  /** A fresh layout with one artifact and the given envelope attached as its signature. */
  async function layoutWith(
    envelope: Uint8Array | ((subject: Descriptor) => Promise<Uint8Array> | Uint8Array),
    mediaType = JWS_MEDIA_TYPE,
    opts: { layers?: number; subjectOverride?: Descriptor } = {}
  ): Promise<string> {
    const dir = join(work, `layout-${n++}`);
    const t = await LayoutTarget.open(dir, { create: true });
    const subject = await pushArtifact(t, `artifact ${n}`, { tag: 'v1' });
    const env = typeof envelope === 'function' ? await envelope(subject) : envelope;
    const envDesc = descriptorFor(mediaType, env);
    await t.push(envDesc, env);
    await t.push(EMPTY_JSON, Buffer.from('{}'));
    let { bytes, descriptor } = signatureManifest(envDesc, opts.subjectOverride ?? subject, good.chain, new Date());
    if (opts.layers === 2) {
      const m = JSON.parse(Buffer.from(bytes).toString()) as { layers: unknown[] };
      m.layers.push(m.layers[0]);
      bytes = Buffer.from(JSON.stringify(m));
      descriptor = descriptorFor(MediaType.ImageManifest, bytes);
    }
    await t.push(descriptor, bytes);
    return `oci:${dir}:v1`;
  }

  const signed =
    (
      chain: TestChain,
      opts: Partial<Parameters<typeof signEnvelope>[0]> = {},
      mt: typeof JWS_MEDIA_TYPE | typeof COSE_MEDIA_TYPE = JWS_MEDIA_TYPE
    ) =>
    (subject: Descriptor) =>
      signEnvelope({ target: subject, signer: chain.signer, ...opts }, mt);

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'signet-neg-'));
    good = await makeChain({ intermediate: true });
    store = join(work, 'store');
    await mkdir(join(store, 'x509', 'ca', 'good'), { recursive: true });
    await writeFile(join(store, 'x509', 'ca', 'good', 'root.pem'), toPem([good.root]));
    await mkdir(join(store, 'x509', 'ca', 'empty'), { recursive: true });
    basePolicy = {
      version: '1.0',
      trustPolicies: [
        {
          name: 'p',
          registryScopes: ['*'],
          signatureVerification: { level: 'strict' },
          trustStores: ['ca:good'],
          trustedIdentities: ['*'],
        },
      ],
    };
  });
  afterAll(async () => rm(work, { recursive: true, force: true }));

  async function expectFail(ref: string, reason: RegExp, policy: unknown = basePolicy, code = 1): Promise<void> {
    const r = await runSignet(['verify', ref, '--policy', await policyFile(policy), '--trust-store', store], {
      env: { SIGNET_HOME: join(work, 'home') },
    });
    expect(r.stdout + r.stderr).toMatch(reason);
    expect(r.code, r.stdout + r.stderr).toBe(code);
  }

  it('control: a good signature verifies (exit 0)', async () => {
    const r = await runSignet(
      ['verify', await layoutWith(signed(good)), '--policy', await policyFile(basePolicy), '--trust-store', store],
      { env: { SIGNET_HOME: join(work, 'home') } }
    );
    expect(r.code, r.stdout + r.stderr).toBe(0);
  });

  const envelopeCases: Array<[string, () => Promise<string>, RegExp]> = [
    [
      'tampered JWS payload',
      async () =>
        layoutWith(async (s) => {
          const e = JSON.parse(Buffer.from(await signed(good)(s)).toString());
          e.payload = b64u(buildPayload({ ...s, size: s.size + 1 }, 'jws'));
          return Buffer.from(JSON.stringify(e));
        }),
      /integrity check failed: the envelope signature does not verify/,
    ],
    [
      'tampered JWS signature',
      async () =>
        layoutWith(async (s) => {
          const e = JSON.parse(Buffer.from(await signed(good)(s)).toString());
          const sig = Buffer.from(e.signature, 'base64url');
          sig[5] = sig[5]! ^ 1;
          e.signature = b64u(sig);
          return Buffer.from(JSON.stringify(e));
        }),
      /integrity check failed: the envelope signature does not verify/,
    ],
    [
      'tampered COSE signature',
      async () =>
        layoutWith(async (s) => {
          const e = Buffer.from(await signed(good, {}, COSE_MEDIA_TYPE)(s));
          e[e.length - 3] = e[e.length - 3]! ^ 1;
          return e;
        }, COSE_MEDIA_TYPE),
      /integrity check failed: the envelope signature does not verify/,
    ],
    [
      'tampered COSE payload',
      async () =>
        layoutWith(async (s) => {
          const e = Buffer.from(await signed(good, {}, COSE_MEDIA_TYPE)(s));
          const i = e.indexOf('"size":');
          e[i + 7] = e[i + 7] === 0x31 ? 0x32 : 0x31;
          return e;
        }, COSE_MEDIA_TYPE),
      /integrity check failed/,
    ],
    [
      'envelope swapped in from another artifact',
      async () =>
        layoutWith(() =>
          signEnvelope(
            {
              target: { mediaType: MediaType.ImageManifest, digest: `sha256:${'1'.repeat(64)}`, size: 3 },
              signer: good.signer,
            },
            JWS_MEDIA_TYPE
          )
        ),
      /subject check failed: content descriptor mismatch/,
    ],
    [
      'untrusted root',
      async () => {
        const other = await makeChain();
        return layoutWith(signed(other));
      },
      /authenticity check failed: .*does not chain/,
    ],
    [
      'leaf whose EKU is serverAuth, not codeSigning',
      async () => {
        const c = await makeChain({ leaf: { extendedKeyUsage: ['1.3.6.1.5.5.7.3.1'] } });
        return layoutWith(async (s) => forgeJws(baseHeader(), buildPayload(s, 'jws'), c.leafKey, c.chain));
      },
      /integrity check failed: .*must not include serverAuth/,
    ],
    [
      'CA certificate used as the signer',
      async () => {
        const c = await makeChain({ leaf: { ca: true } });
        return layoutWith(async (s) => forgeJws(baseHeader(), buildPayload(s, 'jws'), c.leafKey, c.chain));
      },
      /integrity check failed: .*is a CA certificate/,
    ],
    [
      'leaf without digitalSignature key usage',
      async () => {
        const c = await makeChain({ leaf: { keyUsage: ['keyEncipherment'] } });
        return layoutWith(async (s) => forgeJws(baseHeader(), buildPayload(s, 'jws'), c.leafKey, c.chain));
      },
      /integrity check failed: .*lacks digitalSignature/,
    ],
    [
      'expired certificate',
      async () => {
        const c = await makeChain({
          notBefore: new Date(Date.now() - 400 * DAY),
          notAfter: new Date(Date.now() - 100 * DAY),
        });
        await addRoot(c);
        return layoutWith(signed(c, { signingTime: new Date(Date.now() - 200 * DAY) }));
      },
      /authentic-timestamp check failed: .*after the validity period/,
    ],
    [
      'certificate not yet valid',
      async () => {
        const c = await makeChain({
          notBefore: new Date(Date.now() + 10 * DAY),
          notAfter: new Date(Date.now() + 400 * DAY),
        });
        await addRoot(c);
        return layoutWith(signed(c, { signingTime: new Date(Date.now() + 20 * DAY) }));
      },
      /authentic-timestamp check failed: .*before the validity period/,
    ],
    [
      'expired signature',
      async () =>
        layoutWith(signed(good, { signingTime: new Date(Date.now() - 2 * DAY), expiry: new Date(Date.now() - DAY) })),
      /expiry check failed: digital signature has expired/,
    ],
    [
      'unknown critical header',
      async () =>
        layoutWith(async (s) =>
          signPayload(buildPayload(s, 'jws'), JWS_MEDIA_TYPE, {
            signer: good.signer,
            extendedAttributes: [{ key: 'com.example.mustUnderstand', value: 'x', critical: true }],
          })
        ),
      /integrity check failed: unknown critical attribute com.example.mustUnderstand/,
    ],
    [
      'alg none',
      async () =>
        layoutWith(async (s) =>
          forgeJws(baseHeader({ alg: 'none' }), buildPayload(s, 'jws'), good.leafKey, good.chain, 'none')
        ),
      /integrity check failed: mismatch between signature algorithm/,
    ],
    [
      'alg HS256',
      async () =>
        layoutWith(async (s) =>
          forgeJws(baseHeader({ alg: 'HS256' }), buildPayload(s, 'jws'), good.leafKey, good.chain)
        ),
      /integrity check failed: mismatch between signature algorithm/,
    ],
    [
      'alg that does not match the key (ES384 with a P-256 key)',
      async () =>
        layoutWith(async (s) =>
          forgeJws(baseHeader({ alg: 'ES384' }), buildPayload(s, 'jws'), good.leafKey, good.chain)
        ),
      /integrity check failed: mismatch between signature algorithm/,
    ],
    [
      'missing signingScheme',
      async () =>
        layoutWith(async (s) => {
          const h = baseHeader();
          delete h['io.cncf.notary.signingScheme'];
          h.crit = ['io.cncf.notary.signingTime'];
          return forgeJws(h, buildPayload(s, 'jws'), good.leafKey, good.chain);
        }),
      /integrity check failed: the signing scheme .* is missing/,
    ],
    [
      'expiry not marked critical',
      async () =>
        layoutWith(async (s) =>
          forgeJws(
            baseHeader({ 'io.cncf.notary.expiry': '2199-01-01T00:00:00Z' }),
            buildPayload(s, 'jws'),
            good.leafKey,
            good.chain
          )
        ),
      /integrity check failed: these required headers are not marked as critical/,
    ],
    [
      'critical header that is absent',
      async () =>
        layoutWith(async (s) =>
          forgeJws(
            baseHeader({ crit: ['io.cncf.notary.signingScheme', 'io.cncf.notary.expiry'] }),
            buildPayload(s, 'jws'),
            good.leafKey,
            good.chain
          )
        ),
      /integrity check failed: critical header io.cncf.notary.expiry is not present/,
    ],
    [
      'padded base64url',
      async () =>
        layoutWith(async (s) => {
          const e = JSON.parse(Buffer.from(await signed(good)(s)).toString());
          e.payload += '=';
          return Buffer.from(JSON.stringify(e));
        }),
      /integrity check failed: JWS payload is not unpadded base64url/,
    ],
    [
      'truncated JWS envelope',
      async () => layoutWith(async (s) => Buffer.from(await signed(good)(s)).subarray(0, 200)),
      /integrity check failed: JWS envelope is not JSON/,
    ],
    [
      'truncated COSE envelope',
      async () =>
        layoutWith(
          async (s) => Buffer.from(await signed(good, {}, COSE_MEDIA_TYPE)(s)).subarray(0, 100),
          COSE_MEDIA_TYPE
        ),
      /integrity check failed: COSE envelope is not valid CBOR/,
    ],
    [
      'oversized envelope',
      async () => layoutWith(Buffer.alloc(1024 * 1024 + 1, 0x20)),
      /integrity check failed: signature envelope is \d+ bytes, over the/,
    ],
    [
      'malformed JSON',
      async () => layoutWith(Buffer.from('{"payload": ')),
      /integrity check failed: JWS envelope is not JSON/,
    ],
    [
      'malformed CBOR',
      async () => layoutWith(Buffer.from([0xd2, 0x84, 0xff, 0x00]), COSE_MEDIA_TYPE),
      /integrity check failed: COSE envelope is not valid CBOR/,
    ],
    [
      'untagged COSE_Sign1',
      async () =>
        layoutWith(async (s) => {
          const t = (await import('cbor2')).decode(await signed(good, {}, COSE_MEDIA_TYPE)(s)) as Tag;
          return encode(t.contents);
        }, COSE_MEDIA_TYPE),
      /integrity check failed: COSE envelope is not a COSE_Sign1_Tagged/,
    ],
    [
      'COSE signing time that is not tag 1',
      async () =>
        layoutWith(async (s) => {
          const prot = new Map<unknown, unknown>([
            [1, -7],
            [2, ['io.cncf.notary.signingScheme']],
            [3, 'application/vnd.cncf.notary.payload.v1+json'],
            ['io.cncf.notary.signingScheme', 'notary.x509'],
            ['io.cncf.notary.signingTime', Math.floor(Date.now() / 1000)],
          ]);
          const pb = encode(prot);
          const payload = new Uint8Array(buildPayload(s, 'cose'));
          const sig = cryptoSign('sha256', encode(['Signature1', pb, new Uint8Array(0), payload]), {
            key: good.leafKey,
            dsaEncoding: 'ieee-p1363',
          });
          return encode(
            new Tag(18, [
              pb,
              new Map([[33, good.chain.map((c) => new Uint8Array(c.raw))]]),
              payload,
              new Uint8Array(sig),
            ])
          );
        }, COSE_MEDIA_TYPE),
      /integrity check failed: signingTime: only Tag 1/,
    ],
    [
      'unsupported envelope media type',
      async () => layoutWith(Buffer.from('x'), 'application/x-unknown-envelope'),
      /integrity check failed: signature envelope format with media type/,
    ],
    [
      'signature manifest with two layers',
      async () => layoutWith(signed(good), JWS_MEDIA_TYPE, { layers: 2 }),
      /integrity check failed: not a Notary Project signature manifest/,
    ],
    [
      'RSA-PSS envelope whose salt is not the hash length (COSE)',
      async () => {
        const c = await makeChain({ leafType: 'rsa-2048' });
        await addRoot(c);
        return layoutWith(async (s) => {
          const prot = encode(
            new Map<unknown, unknown>([
              [1, -37],
              [2, ['io.cncf.notary.signingScheme']],
              [3, 'application/vnd.cncf.notary.payload.v1+json'],
              ['io.cncf.notary.signingScheme', 'notary.x509'],
              ['io.cncf.notary.signingTime', new Tag(1, Math.floor(Date.now() / 1000))],
            ])
          );
          const payload = new Uint8Array(buildPayload(s, 'cose'));
          const sig = cryptoSign('sha256', encode(['Signature1', prot, new Uint8Array(0), payload]), {
            key: c.leafKey,
            padding: constants.RSA_PKCS1_PSS_PADDING,
            saltLength: 20,
          });
          return encode(
            new Tag(18, [
              prot,
              new Map([[33, c.chain.map((x) => new Uint8Array(x.raw))]]),
              payload,
              new Uint8Array(sig),
            ])
          );
        }, COSE_MEDIA_TYPE);
      },
      /integrity check failed: the envelope signature does not verify/,
    ],
  ];

  async function addRoot(c: TestChain): Promise<void> {
    const dir = join(store, 'x509', 'ca', 'good');
    await writeFile(join(dir, `extra-${n++}.pem`), toPem([c.root]));
  }

  it.each(envelopeCases)('%s', async (_name, make, reason) => {
    await expectFail(await make(), reason);
  });

  const policyCases: Array<[string, (p: Record<string, unknown>) => unknown, RegExp]> = [
    [
      'wrong trusted identity',
      (p) => withStatement(p, { trustedIdentities: ['x509.subject: CN=someone else,O=Signet Test,ST=WA,C=US'] }),
      /authenticity check failed: .*does not match any trusted identity/,
    ],
    [
      'no statement matches the artifact',
      (p) => withStatement(p, { registryScopes: ['registry.example.com/other'] }),
      /no applicable trust policy/,
    ],
    [
      'empty trust store',
      (p) => withStatement(p, { trustStores: ['ca:empty'] }),
      /authenticity check failed: the trust store "empty" of type "ca" has no certificates/,
    ],
    [
      'trust store that does not exist',
      (p) => withStatement(p, { trustStores: ['ca:nowhere'] }),
      /authenticity check failed: the trust store "nowhere" of type "ca" does not exist/,
    ],
    ['policy: no version', (p) => ({ ...p, version: '' }), /trust policy: version is required/],
    ['policy: unsupported version', (p) => ({ ...p, version: '2.0' }), /unsupported version "2.0"/],
    ['policy: no statements', (p) => ({ ...p, trustPolicies: [] }), /at least one statement/],
    ['policy: empty statement name', (p) => withStatement(p, { name: '' }), /empty name/],
    [
      'policy: duplicate statement names',
      (p) => ({ ...p, trustPolicies: [stmt(p), { ...stmt(p), registryScopes: ['a.io/b'] }] }),
      /statement name "p" is used more than once/,
    ],
    [
      'policy: unknown level',
      (p) => withStatement(p, { signatureVerification: { level: 'paranoid' } }),
      /unknown verification level "paranoid"/,
    ],
    [
      'policy: integrity overridden',
      (p) => withStatement(p, { signatureVerification: { level: 'strict', override: { integrity: 'log' } } }),
      /integrity check cannot be overridden/,
    ],
    [
      'policy: authenticity skipped',
      (p) => withStatement(p, { signatureVerification: { level: 'strict', override: { authenticity: 'skip' } } }),
      /authenticity cannot be skipped/,
    ],
    [
      'policy: unknown override type',
      (p) => withStatement(p, { signatureVerification: { level: 'strict', override: { freshness: 'log' } } }),
      /unknown validation type "freshness"/,
    ],
    [
      'policy: unknown override action',
      (p) => withStatement(p, { signatureVerification: { level: 'strict', override: { expiry: 'ignore' } } }),
      /unknown action "ignore"/,
    ],
    [
      'policy: skip level with overrides',
      (p) =>
        withStatement(p, {
          signatureVerification: { level: 'skip', override: { revocation: 'skip' } },
          trustStores: [],
          trustedIdentities: [],
        }),
      /"skip" level cannot have overrides/,
    ],
    [
      'policy: skip level with trust stores',
      (p) => withStatement(p, { signatureVerification: { level: 'skip' } }),
      /must not have trustStores or trustedIdentities/,
    ],
    ['policy: no trust stores', (p) => withStatement(p, { trustStores: [] }), /trustStores must not be empty/],
    [
      'policy: no trusted identities',
      (p) => withStatement(p, { trustedIdentities: [] }),
      /trustedIdentities must not be empty/,
    ],
    [
      'policy: bad trust store type',
      (p) => withStatement(p, { trustStores: ['root:good'] }),
      /must be <ca\|signingAuthority\|tsa>:<name>/,
    ],
    [
      'policy: bad trust store name',
      (p) => withStatement(p, { trustStores: ['ca:bad/name'] }),
      /must match \[a-zA-Z0-9_.-\]\+/,
    ],
    [
      'policy: "*" scope with others',
      (p) => withStatement(p, { registryScopes: ['*', 'a.io/b'] }),
      /"\*" must be the only scope/,
    ],
    [
      'policy: prefix wildcard scope',
      (p) => withStatement(p, { registryScopes: ['registry.example.com/team/*'] }),
      /contains a wildcard/,
    ],
    [
      'policy: scope that is not domain/repository',
      (p) => withStatement(p, { registryScopes: ['alpine'] }),
      /not of the form domain\[:port\]\/repository/,
    ],
    [
      'policy: empty registryScopes',
      (p) => withStatement(p, { registryScopes: [] }),
      /registryScopes must not be empty/,
    ],
    [
      'policy: a scope in two statements',
      (p) => ({ ...p, trustPolicies: [stmt(p), { ...stmt(p), name: 'q' }] }),
      /appears in statements "p" and "q"/,
    ],
    [
      'policy: identity without C, ST and O',
      (p) => withStatement(p, { trustedIdentities: ['x509.subject: CN=x,O=y'] }),
      /must contain C, ST and O/,
    ],
    [
      'policy: "*" identity with others',
      (p) => withStatement(p, { trustedIdentities: ['*', 'x509.subject: C=US,ST=WA,O=y'] }),
      /"\*" trusted identity must be the only one/,
    ],
    [
      'policy: overlapping identities',
      (p) =>
        withStatement(p, { trustedIdentities: ['x509.subject: C=US,ST=WA,O=y', 'x509.subject: C=US,ST=WA,O=y,CN=z'] }),
      /trusted identities overlap/,
    ],
    [
      'policy: multi-valued RDN in an identity',
      (p) => withStatement(p, { trustedIdentities: ['x509.subject: C=US+ST=WA,O=y'] }),
      /multi-valued RDNs are not supported/,
    ],
    [
      'policy: identity without a prefix',
      (p) => withStatement(p, { trustedIdentities: ['C=US,ST=WA,O=y'] }),
      /must be "\*" or "<prefix>:<value>"/,
    ],
    [
      'policy: invalid verifyTimestamp',
      (p) => withStatement(p, { signatureVerification: { level: 'strict', verifyTimestamp: 'sometimes' } }),
      /verifyTimestamp must be "always" or "afterCertExpiry"/,
    ],
    ['policy: malformed JSON', () => '{"version": "1.0", ', /malformed trust policy/],
  ];

  function stmt(p: Record<string, unknown>): Record<string, unknown> {
    return (p.trustPolicies as Array<Record<string, unknown>>)[0]!;
  }
  function withStatement(p: Record<string, unknown>, change: Record<string, unknown>): unknown {
    return { ...p, trustPolicies: [{ ...stmt(p), ...change }] };
  }

  let goodLayout: string;
  // A broken policy document is a malformed input (exit 2, POLICY_INVALID); the others fail verification (exit 1).
  it.each(policyCases)('%s', async (name, make, reason) => {
    const code = name.startsWith('policy: ') ? 2 : 1;
    goodLayout ??= await layoutWith(signed(good));
    const doc = make(basePolicy);
    if (typeof doc === 'string') {
      const p = join(work, `raw-${n++}.json`);
      await writeFile(p, doc);
      const r = await runSignet(['verify', goodLayout, '--policy', p, '--trust-store', store], {
        env: { SIGNET_HOME: join(work, 'home') },
      });
      expect(r.stdout + r.stderr).toMatch(reason);
      expect(r.code).toBe(code);
      return;
    }
    await expectFail(goodLayout, reason, doc, code);
  });

  it('has at least 40 cases', () => {
    expect(envelopeCases.length + policyCases.length).toBeGreaterThanOrEqual(40);
  });
});
