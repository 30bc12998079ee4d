import { createHash } from 'node:crypto';
import { parseCertificates } from '../../pki/index.ts';
import { parseCosignPublicKey } from '../../signature/index.ts';
import { containersIdentityMatches, requirementsFor, type SigstoreKeyless } from '../../trust/index.ts';
import type { RegistryReference } from '../../oci/index.ts';
import type { CosignCandidate, LayoutCandidate, SimpleCandidate } from '../discover.ts';
import { verifyCosignSignature } from '../families/cosign.ts';
import { parseTrustedRoot, type SigstorePolicy } from '../families/sigstore.ts';
import { verifyLayoutSignature, verifySimpleSignature } from '../families/openpgp.ts';
import { check, type RequirementReport } from '../report.ts';
import { evaluateSigstore } from './sigstore.ts';
import type { EvaluationContext, Requirement } from './types.ts';

// A policy is loaded once and used for every artifact (a webhook): parse each key once, not per verification.
const parsedKeys = new WeakMap<Uint8Array, ReturnType<typeof parseCosignPublicKey>>();
function cosignKey(bytes: Uint8Array): ReturnType<typeof parseCosignPublicKey> {
  let k = parsedKeys.get(bytes);
  if (!k) parsedKeys.set(bytes, (k = parseCosignPublicKey(bytes)));
  return k;
}

type Identity = (dockerReference: string) => { ok: boolean; reason: string };

/** The repository a signature's identity is judged against: the registry one, or a layout's `--scope`. */
function dockerName(ctx: EvaluationContext): RegistryReference | undefined {
  const p = ctx.subject.parsed;
  if (p.kind === 'registry') return p;
  if (!ctx.scope) return undefined;
  const slash = ctx.scope.indexOf('/');
  return {
    kind: 'registry',
    registry: ctx.scope.slice(0, slash),
    repository: ctx.scope.slice(slash + 1),
    ...(p.tag ? { tag: p.tag } : {}),
    ...(p.digest ? { digest: p.digest } : {}),
  };
}

function satisfiedBy(name: string, by: string[], found: number, family: string): RequirementReport {
  if (by.length) return { name, satisfied: true, by, checks: [] };
  const reason = found
    ? `none of the ${found} ${family} signature(s) passed`
    : `no ${family} signature is associated with the artifact`;
  return {
    name,
    satisfied: false,
    by,
    checks: [check('threshold', 'fail', `0 of 1 required valid signature(s): ${reason}`, name)],
  };
}

async function cosignBy(
  ctx: EvaluationContext,
  name: string,
  keys: ReturnType<typeof parseCosignPublicKey>[],
  identity: Identity
): Promise<RequirementReport> {
  const cands = ctx.candidates.filter((c): c is CosignCandidate => c.family === 'cosign');
  const by: string[] = [];
  for (const c of cands) {
    const v = verifyCosignSignature({
      candidate: c,
      digest: ctx.subject.descriptor.digest,
      keys,
      identity,
      requirement: name,
    });
    ctx.record(c, { verdict: v.verdict, checks: v.checks, ...(v.keyId ? { keyId: v.keyId, signer: v.keyId } : {}) });
    if (v.verdict === 'verified') by.push(c.digest);
  }
  return satisfiedBy(name, by, cands.length, 'cosign');
}

async function simpleBy(
  ctx: EvaluationContext,
  name: string,
  keys: Uint8Array[],
  identity: Identity
): Promise<RequirementReport> {
  const cands = ctx.candidates.filter((c): c is SimpleCandidate => c.family === 'simple');
  const by: string[] = [];
  for (const c of cands) {
    const v = await verifySimpleSignature({
      candidate: c,
      digest: ctx.subject.descriptor.digest,
      keys,
      identity,
      requirement: name,
    });
    ctx.record(c, {
      verdict: v.verdict,
      checks: v.checks,
      ...(v.fingerprint ? { keyId: v.fingerprint, signer: v.fingerprint } : {}),
    });
    if (v.verdict === 'verified') by.push(c.digest);
  }
  return satisfiedBy(name, by, cands.length, 'simple (GPG)');
}

/** `--cosign-key`: a cosign signature by one of the keys, naming this repository (or `identity`). */
export async function evaluateCosignKey(
  req: Extract<Requirement, { kind: 'cosign-key' }>,
  ctx: EvaluationContext
): Promise<RequirementReport[]> {
  const p = ctx.subject.parsed;
  const expected =
    req.identity === false
      ? undefined
      : (req.identity ?? (p.kind === 'registry' ? `${p.registry}/${p.repository}` : (ctx.scope ?? p.path)));
  const identity: Identity = (ref) =>
    expected === undefined || ref === expected
      ? { ok: true, reason: `signed for ${ref}` }
      : { ok: false, reason: `the payload names ${ref}, not ${expected}` };
  return [await cosignBy(ctx, 'cosign-key', req.keys, identity)];
}

/** `--layout-key`: the layout's index.json entry is signed by one of the keys, and not rolled back. */
export async function evaluateLayoutKey(
  req: Extract<Requirement, { kind: 'layout-key' }>,
  ctx: EvaluationContext
): Promise<RequirementReport[]> {
  const name = 'layout-key';
  // freshness/ (and TUF with it) loads only for a --layout-key requirement
  const state = req.state ?? new (await import('../../freshness/index.ts')).FreshnessState();
  const cands = ctx.candidates.filter((c): c is LayoutCandidate => c.family === 'layout');
  const by: string[] = [];
  for (const c of cands) {
    const v = await verifyLayoutSignature({
      candidate: c,
      digest: ctx.subject.descriptor.digest,
      keys: req.keys,
      accept: (f, r, t, d) => state.accept(f, r, t, d),
      requirement: name,
    });
    ctx.record(c, {
      verdict: v.verdict,
      checks: v.checks,
      ...(v.fingerprint ? { keyId: v.fingerprint, signer: v.fingerprint } : {}),
      ...(v.signingTime ? { signingTime: v.signingTime } : {}),
    });
    if (v.verdict === 'verified') by.push(c.digest);
  }
  if (ctx.subject.parsed.kind !== 'layout') {
    return [
      {
        name,
        satisfied: false,
        by,
        checks: [
          check(
            'policy',
            'fail',
            'statically signed layouts are verified in OCI layouts (oci:DIR, oci:FILE.tar, oci:https://…)',
            name
          ),
        ],
      },
    ];
  }
  return [satisfiedBy(name, by, cands.length, 'layout (org.flatpak.signature-digest)')];
}

/**
 * A containers policy.json: the most specific scope's requirements, each one a requirement of
 * its own (all must pass, as containers/image enforces them).
 */
export async function evaluateContainersPolicy(
  req: Extract<Requirement, { kind: 'containers-policy' }>,
  ctx: EvaluationContext
): Promise<RequirementReport[]> {
  const ref = dockerName(ctx);
  if (!ref) {
    return [
      {
        name: 'containers-policy',
        satisfied: false,
        by: [],
        checks: [
          check(
            'policy',
            'fail',
            'a containers policy names registry repositories: verify a layout with --scope REGISTRY/REPOSITORY'
          ),
        ],
      },
    ];
  }
  const { scope, requirements } = requirementsFor(req.policy, ref);
  const out: RequirementReport[] = [];
  for (const [i, r] of requirements.entries()) {
    const name = `containers-policy:${scope}[${i}] ${r.type}`;
    if (r.type === 'insecureAcceptAnything')
      out.push({
        name,
        satisfied: true,
        by: [],
        checks: [check('policy', 'pass', 'accepted without checks (insecureAcceptAnything)')],
      });
    else if (r.type === 'reject')
      out.push({
        name,
        satisfied: false,
        by: [],
        checks: [check('policy', 'fail', `rejected by the policy (scope ${scope})`)],
      });
    else {
      const identity: Identity = (signed) =>
        containersIdentityMatches(r.signedIdentity, ref, signed)
          ? { ok: true, reason: `signed identity ${signed} (${r.signedIdentity.type})` }
          : {
              ok: false,
              reason: `signed identity ${signed} does not match ${ref.registry}/${ref.repository} (${r.signedIdentity.type})`,
            };
      if (r.type === 'signedBy') out.push(await simpleBy(ctx, name, r.keys, identity));
      else if (r.keyless)
        out.push(
          ...(await evaluateSigstore(
            { kind: 'sigstore', name, policy: keylessPolicy(r.keyless, checkpointNames(ctx.candidates)) },
            ctx
          ))
        );
      else out.push(await cosignBy(ctx, name, r.keys.map(cosignKey), identity));
    }
  }
  return out;
}

/**
 * A containers `sigstoreSigned` with `fulcio` as a Sigstore policy: a trusted root made of that
 * Fulcio CA and those Rekor keys (no CT log: no SCT required, as containers/image), and the one
 * identity (subjectEmail from oidcIssuer). It applies to Sigstore bundles, which bind the digest;
 * `signedIdentity` speaks of a signed docker-reference, which a bundle does not carry.
 */
const EC_KEY_DETAILS: Record<string, string> = {
  prime256v1: 'PKIX_ECDSA_P256_SHA_256',
  secp384r1: 'PKIX_ECDSA_P384_SHA_384',
  secp521r1: 'PKIX_ECDSA_P521_SHA_512',
};

/**
 * The log names the bundles' checkpoints are signed under (signed-note lines "— <name> <sig>"), at
 * most 16: @sigstore/verify matches a checkpoint signature to a log by key hint AND by name in
 * the log's URL, and the containers form names a Rekor by its key only (containers/image checks
 * no log name either). The key still decides: a name alone verifies nothing.
 */
function checkpointNames(cands: EvaluationContext['candidates']): string[] {
  const names = new Set<string>();
  for (const c of cands) {
    if (c.family !== 'sigstore' || !c.bundle) continue;
    try {
      const b = JSON.parse(Buffer.from(c.bundle).toString('utf8')) as {
        verificationMaterial?: { tlogEntries?: Array<{ inclusionProof?: { checkpoint?: { envelope?: unknown } } }> };
      };
      for (const e of b.verificationMaterial?.tlogEntries ?? []) {
        const env = e.inclusionProof?.checkpoint?.envelope;
        if (typeof env !== 'string') continue;
        for (const m of env.matchAll(/^\u2014 ([^\s]{1,255}) /gmu)) if (names.size < 16) names.add(m[1]!);
      }
    } catch {
      // an unreadable bundle fails on its own when verified
    }
  }
  return [...names];
}

function keylessPolicy(k: SigstoreKeyless, logNames: string[]): SigstorePolicy {
  const start = '1970-01-01T00:00:00Z';
  const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
  const chain = k.ca.flatMap((pem) => parseCertificates(pem, 'the Fulcio CA')).map((c) => ({ rawBytes: b64(c.raw) }));
  const tlogs = k.rekorKeys.flatMap((bytes) => {
    const key = cosignKey(bytes);
    const spki = key.export({ type: 'spki', format: 'der' });
    const curve = key.asymmetricKeyDetails?.namedCurve ?? '';
    const details =
      key.asymmetricKeyType === 'ed25519'
        ? 'PKIX_ED25519'
        : key.asymmetricKeyType === 'rsa'
          ? 'PKIX_RSA_PKCS1V15_2048_SHA256'
          : (EC_KEY_DETAILS[curve] ?? 'PKIX_ECDSA_P256_SHA_256');
    return (logNames.length ? logNames : ['']).map((n) => ({
      baseUrl: n ? `https://${n}` : '',
      hashAlgorithm: 'SHA2_256',
      publicKey: { rawBytes: b64(spki), keyDetails: details, validFor: { start } },
      logId: { keyId: createHash('sha256').update(spki).digest('base64') },
    }));
  });
  const root = parseTrustedRoot(
    Buffer.from(
      JSON.stringify({
        mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
        tlogs,
        certificateAuthorities: [{ subject: {}, uri: '', certChain: { certificates: chain }, validFor: { start } }],
        ctlogs: [],
        timestampAuthorities: [],
      })
    ),
    'the containers policy fulcio and rekor keys'
  );
  return {
    keys: [],
    identities: [{ subject: k.subjectEmail, issuer: k.oidcIssuer }],
    trustedRoot: root,
    sctOptional: true,
  };
}
