import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseRegistryReference } from '../../../src/oci/index.ts';
import {
  buildSimplePayload,
  signOpenPgp,
  verifyOpenPgpMessage,
  parseSimplePayload,
} from '../../../src/signature/index.ts';
import {
  containersIdentityMatches as matches,
  loadContainersPolicy,
  requirementsFor,
  type SignedIdentity,
} from '../../../src/trust/index.ts';

describe('containers policy.json', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'signet-cpol-'));
    await writeFile(join(dir, 'k.gpg'), 'x');
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));
  const load = async (doc: unknown) => {
    const p = join(dir, `p${Math.random()}.json`);
    await writeFile(p, JSON.stringify(doc));
    return loadContainersPolicy(p);
  };

  it('the most specific docker scope wins, else default', async () => {
    const p = await load({
      default: [{ type: 'reject' }],
      transports: {
        docker: {
          'reg.io': [{ type: 'insecureAcceptAnything' }],
          'reg.io/team': [{ type: 'reject' }],
          'reg.io/team/app:v1': [{ type: 'insecureAcceptAnything' }],
          '*.example.com': [{ type: 'insecureAcceptAnything' }],
        },
      },
    });
    expect(requirementsFor(p, parseRegistryReference('reg.io/team/app:v1')).scope).toBe('reg.io/team/app:v1');
    expect(requirementsFor(p, parseRegistryReference('reg.io/team/app:v2')).scope).toBe('reg.io/team');
    expect(requirementsFor(p, parseRegistryReference('reg.io/other/app:v2')).scope).toBe('reg.io');
    expect(requirementsFor(p, parseRegistryReference('a.b.example.com/x:1')).scope).toBe('*.example.com');
    expect(requirementsFor(p, parseRegistryReference('quay.io/x:1')).scope).toBe('default');
  });

  it.each([
    [{ default: [{ type: 'sometimes' }] }, /unknown requirement type "sometimes"/],
    [{ default: [] }, /non-empty list/],
    [
      { default: [{ type: 'signedBy', keyType: 'X509Certificates', keyPath: 'k.gpg' }] },
      /keyType "X509Certificates" is not supported/,
    ],
    [{ default: [{ type: 'signedBy', keyType: 'GPGKeys' }] }, /needs keyPath, keyPaths or keyData/],
    [
      {
        default: [
          { type: 'signedBy', keyType: 'GPGKeys', keyPath: 'k.gpg', signedIdentity: { type: 'matchWhatever' } },
        ],
      },
      /unknown signedIdentity type "matchWhatever"/,
    ],
  ])('refuses %j', async (doc, msg) => {
    await expect(load(doc)).rejects.toThrow(msg);
  });

  const ref = (s: string) => parseRegistryReference(s);
  it.each<[SignedIdentity, string, string, boolean]>([
    [{ type: 'matchRepoDigestOrExact' }, 'reg.io/app:signed', 'reg.io/app:signed', true],
    [{ type: 'matchRepoDigestOrExact' }, 'reg.io/app:other', 'reg.io/app:signed', false],
    [{ type: 'matchRepoDigestOrExact' }, 'reg.io/other:signed', 'reg.io/app:signed', false],
    [{ type: 'matchRepoDigestOrExact' }, `reg.io/app@sha256:${'a'.repeat(64)}`, 'reg.io/app:anything', true],
    [{ type: 'matchRepository' }, 'reg.io/app:other', 'reg.io/app:signed', true],
    [{ type: 'matchRepository' }, 'reg.io/x:signed', 'reg.io/app:signed', false],
    [{ type: 'matchExact' }, 'reg.io/app:signed', 'reg.io/app:signed', true],
    [{ type: 'matchExact' }, `reg.io/app@sha256:${'a'.repeat(64)}`, 'reg.io/app:signed', false],
    [{ type: 'exactReference', dockerReference: 'reg.io/app:golden' }, 'reg.io/anything:v1', 'reg.io/app:golden', true],
    [{ type: 'exactReference', dockerReference: 'reg.io/app:golden' }, 'reg.io/anything:v1', 'reg.io/app:v1', false],
    [{ type: 'exactRepository', dockerRepository: 'reg.io/app' }, 'mirror.io/copy:v1', 'reg.io/app:any', true],
    [{ type: 'remapIdentity', prefix: 'mirror.io', signedPrefix: 'reg.io' }, 'mirror.io/app:v1', 'reg.io/app:v1', true],
    [
      { type: 'remapIdentity', prefix: 'mirror.io', signedPrefix: 'reg.io' },
      'mirror.io/app:v1',
      'reg.io/app:v2',
      false,
    ],
  ])('%j: %s with a signature for %s → %s', (identity, r, signed, expected) => {
    expect(matches(identity, ref(r), signed)).toBe(expected);
  });
});

describe('OpenPGP simple signatures: bad input', () => {
  let key: string;
  let pub: Uint8Array;
  beforeAll(async () => {
    const openpgp = await import('openpgp');
    const k = await openpgp.generateKey({
      type: 'ecc',
      curve: 'ed25519Legacy',
      userIDs: [{ name: 't', email: 't@x.invalid' }],
      format: 'armored',
    });
    key = k.privateKey;
    pub = (await openpgp.readKey({ armoredKey: k.publicKey })).write();
  });
  const payload = buildSimplePayload('reg.io/app:v1', `sha256:${'b'.repeat(64)}`);

  it('round trip, and the payload parses', async () => {
    const sig = await signOpenPgp(payload, key);
    const r = await verifyOpenPgpMessage(sig, [pub]);
    expect(parseSimplePayload(r.data).dockerReference).toBe('reg.io/app:v1');
  });
  it('refuses truncated, oversized, tampered and foreign-key signatures', async () => {
    const sig = Buffer.from(await signOpenPgp(payload, key));
    await expect(verifyOpenPgpMessage(sig.subarray(0, sig.length - 20), [pub])).rejects.toThrow();
    await expect(verifyOpenPgpMessage(Buffer.alloc(5 * 1024 * 1024), [pub])).rejects.toThrow(/over \d+ bytes/);
    const t = Buffer.from(sig);
    t[t.length - 5] = t[t.length - 5]! ^ 0xff;
    await expect(verifyOpenPgpMessage(t, [pub])).rejects.toThrow(/does not verify|not an OpenPGP/);
    const openpgp = await import('openpgp');
    const other = await openpgp.generateKey({
      type: 'ecc',
      curve: 'ed25519Legacy',
      userIDs: [{ name: 'o' }],
      format: 'armored',
    });
    await expect(
      verifyOpenPgpMessage(sig, [(await openpgp.readKey({ armoredKey: other.publicKey })).write()])
    ).rejects.toThrow(/does not verify/);
  });
  it('refuses an expired key and a revoked key', async () => {
    const openpgp = await import('openpgp');
    const past = new Date(Date.now() - 10 * 86_400_000);
    const expiring = await openpgp.generateKey({
      type: 'ecc',
      curve: 'ed25519Legacy',
      userIDs: [{ name: 'e' }],
      keyExpirationTime: 86_400,
      date: past,
      format: 'armored',
    });
    const sigE = await signOpenPgp(payload, expiring.privateKey).catch(() => null);
    if (sigE)
      await expect(
        verifyOpenPgpMessage(sigE, [(await openpgp.readKey({ armoredKey: expiring.publicKey })).write()])
      ).rejects.toThrow();
    else expect(sigE).toBeNull(); // openpgp.js refuses to sign with an expired key at all
    const k = await openpgp.generateKey({
      type: 'ecc',
      curve: 'ed25519Legacy',
      userIDs: [{ name: 'r' }],
      format: 'object',
    });
    const sig = await signOpenPgp(payload, k.privateKey.armor());
    const { publicKey: revoked } = await openpgp.revokeKey({ key: k.privateKey, format: 'object' });
    await expect(verifyOpenPgpMessage(sig, [revoked.write()])).rejects.toThrow(/revoked|does not verify/i);
  });
  it('refuses a signature made by a subkey without the signing flag (a signing subkey is the control)', async () => {
    const openpgp = await import('openpgp');
    // Built packet by packet: openpgp.js itself would never sign with an encryption-only subkey.
    const bySubkey = async (signSubkey: boolean): Promise<{ message: Uint8Array; publicKey: Uint8Array }> => {
      const { privateKey } = await openpgp.generateKey({
        type: 'rsa',
        rsaBits: 2048,
        userIDs: [{ name: 's' }],
        subkeys: [{ sign: signSubkey }],
        format: 'object',
      });
      const sub = privateKey.subkeys[0]!;
      const literal = new openpgp.LiteralDataPacket();
      (literal as unknown as { setBytes(b: Uint8Array, f: unknown): void }).setBytes(
        payload,
        openpgp.enums.literal.binary
      );
      const sig = new openpgp.SignaturePacket() as unknown as Record<string, unknown> & {
        sign: (...a: unknown[]) => Promise<void>;
      };
      sig.signatureType = openpgp.enums.signature.binary;
      sig.publicKeyAlgorithm = sub.keyPacket.algorithm;
      sig.hashAlgorithm = openpgp.enums.hash.sha256;
      sig.issuerKeyID = sub.getKeyID();
      sig.issuerFingerprint = (sub.keyPacket as unknown as { getFingerprintBytes(): Uint8Array }).getFingerprintBytes();
      sig.issuerKeyVersion = sub.keyPacket.version;
      sig.created = new Date();
      await sig.sign(sub.keyPacket, literal, new Date(), false, openpgp.config);
      const ops = new openpgp.OnePassSignaturePacket() as unknown as Record<string, unknown>;
      Object.assign(ops, {
        signatureType: sig.signatureType,
        hashAlgorithm: sig.hashAlgorithm,
        publicKeyAlgorithm: sig.publicKeyAlgorithm,
        issuerKeyID: sig.issuerKeyID,
        flags: 1,
      });
      const list = new openpgp.PacketList();
      list.push(ops as never, literal, sig as never);
      return { message: list.write(), publicKey: privateKey.toPublic().write() };
    };
    const good = await bySubkey(true);
    expect(parseSimplePayload((await verifyOpenPgpMessage(good.message, [good.publicKey])).data).dockerReference).toBe(
      'reg.io/app:v1'
    );
    const bad = await bySubkey(false);
    await expect(verifyOpenPgpMessage(bad.message, [bad.publicKey])).rejects.toThrow(/valid signing key/);
  }, 60_000);

  it('refuses a payload that is not an atomic container signature', () => {
    expect(() => parseSimplePayload(Buffer.from('{"critical":{"type":"cosign container image signature"}}'))).toThrow(
      /not "atomic container signature"/
    );
    expect(() => parseSimplePayload(Buffer.from('nope'))).toThrow(/not JSON/);
  });
});
