/** OpenPGP: signed messages and public keys (verifyOpenPgpMessage, what GPG simple signatures go through). */
import fc from 'fast-check';
import { signOpenPgp } from '../../../src/signature/simple/index.ts';
import { verifyOpenPgpMessage } from '../../../src/signature/simple/simple.ts';
import { expectModel, OracleViolation, type FuzzTarget } from '../harness.ts';
import { bytes, mutatedBytes, seedsOf } from '../mutate.ts';

const PAYLOAD = new Uint8Array(
  Buffer.from('{"critical":{"type":"atomic container signature","image":{"docker-manifest-digest":"sha256:00"}}}')
);

interface PgpCtx {
  /** Binary and armored public keys, one per key type. */
  keys: Uint8Array[];
  fingerprints: Set<string>;
  /** Binary and armored signed messages over PAYLOAD, one per key. */
  messages: Uint8Array[];
}

async function setup(): Promise<PgpCtx> {
  const openpgp = await import('openpgp');
  const ctx: PgpCtx = { keys: [], fingerprints: new Set(), messages: [] };
  for (const opts of [
    { type: 'ecc' as const, curve: 'ed25519Legacy' as const },
    { type: 'ecc' as const, curve: 'nistP256' as const },
  ]) {
    const k = await openpgp.generateKey({
      ...opts,
      userIDs: [{ name: 'fuzz', email: 'fuzz@x.invalid' }],
      format: 'armored',
    });
    const pub = await openpgp.readKey({ armoredKey: k.publicKey });
    ctx.keys.push(pub.write(), bytes(k.publicKey));
    ctx.fingerprints.add(pub.getFingerprint().toUpperCase());
    const signed = await signOpenPgp(PAYLOAD, k.privateKey);
    ctx.messages.push(signed, bytes(openpgp.armor(openpgp.enums.armor.message, signed)));
  }
  return ctx;
}

function armored(seeds: Uint8Array[], label: string): fc.Arbitrary<Uint8Array> {
  return mutatedBytes(seeds.filter((s) => s[0] !== 0x2d)).map((b) =>
    bytes(`-----BEGIN PGP ${label}-----\n\n${Buffer.from(b).toString('base64')}\n-----END PGP ${label}-----\n`)
  );
}

export const openpgpMessage: FuzzTarget<PgpCtx> = {
  name: 'openpgp-message',
  description: 'OpenPGP signed messages, binary and armored (verifyOpenPgpMessage with the trusted keys)',
  weight: 2,
  setup,
  arbitrary: (ctx) =>
    fc.oneof(
      { weight: 6, arbitrary: mutatedBytes(ctx.messages) },
      { weight: 2, arbitrary: armored(ctx.messages, 'MESSAGE') },
      { weight: 1, arbitrary: seedsOf(ctx.messages) }
    ),
  async run(ctx, input) {
    const r = await verifyOpenPgpMessage(input, ctx.keys);
    expectModel(ctx.fingerprints.has(r.fingerprint), `signer ${r.fingerprint}`);
    if (!Buffer.from(r.data).equals(Buffer.from(PAYLOAD)))
      throw new OracleViolation('a mutated OpenPGP message verifies with other signed data');
  },
};

export const openpgpKey: FuzzTarget<PgpCtx> = {
  name: 'openpgp-key',
  description: 'OpenPGP public keys, binary and armored (verifyOpenPgpMessage of a valid message with the mutated key)',
  weight: 2,
  setup,
  arbitrary: (ctx) =>
    fc.oneof(
      { weight: 6, arbitrary: mutatedBytes(ctx.keys) },
      { weight: 2, arbitrary: armored(ctx.keys, 'PUBLIC KEY BLOCK') },
      { weight: 1, arbitrary: seedsOf(ctx.keys) }
    ),
  async run(ctx, input) {
    for (const m of ctx.messages.slice(0, 1)) {
      const r = await verifyOpenPgpMessage(m, [input]);
      // a mutated key that still verifies must be the key that signed (its key material intact)
      if (!ctx.fingerprints.has(r.fingerprint))
        throw new OracleViolation(`a mutated key ${r.fingerprint} verifies a message it did not sign`);
      expectModel(Buffer.from(r.data).equals(Buffer.from(PAYLOAD)), 'data');
    }
  },
};
