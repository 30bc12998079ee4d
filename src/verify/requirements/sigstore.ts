import { fetchAll, fetchManifest, type ReadStore } from '../../store/index.ts';
import type { TrustPolicySigstore, TrustPolicyStatement } from '../../trust/index.ts';
import { isNotFound, type Descriptor, type ImageManifest } from '../../oci/index.ts';
import { SignetError } from '../../util/index.ts';
import type { SigstoreCandidate } from '../discover.ts';
import { verifySigstoreBundle, type SigstorePolicy } from '../families/sigstore.ts';
import { sigstoreRequirement } from '../load.ts';
import { check, type RequirementReport } from '../report.ts';
import type { EvaluationContext, Requirement } from './types.ts';

/**
 * Sigstore bundles (`--key`, `--certificate-identity…`, a trust policy's `sigstore` statement):
 * satisfied by one bundle that verifies for this digest under the policy.
 */
export async function evaluateSigstore(
  req: Extract<Requirement, { kind: 'sigstore' }>,
  ctx: EvaluationContext
): Promise<RequirementReport[]> {
  const name = req.name;
  const cands = ctx.candidates.filter((c): c is SigstoreCandidate => c.family === 'sigstore');
  const by: string[] = [];
  // A message-signature bundle of an image signs its manifest bytes: read once, by digest, when needed.
  let manifest: Uint8Array | undefined;
  for (const c of cands) {
    const isMessage = !!c.bundle && Buffer.from(c.bundle).includes('"messageSignature"');
    if (isMessage && !manifest) manifest = (await fetchManifest(ctx.subject.target, ctx.subject.descriptor)).bytes;
    const v = verifySigstoreBundle({
      bundle: c.bundle,
      ...(c.unreadable ? { unreadable: c.unreadable } : {}),
      digest: ctx.subject.descriptor.digest,
      ...(manifest ? { artifact: manifest } : {}),
      policy: req.policy,
      requirement: name,
    });
    ctx.record(c, {
      verdict: v.verdict,
      checks: v.checks,
      ...(v.signer ? { signer: v.signer } : {}),
      ...(v.keyId ? { keyId: v.keyId } : {}),
    });
    if (v.verdict === 'verified') by.push(c.digest);
  }
  const notes = req.policy.note ? [check('policy', 'pass', req.policy.note, name)] : [];
  if (by.length) return [{ name, satisfied: true, by, checks: notes }];
  const reason = cands.length
    ? `none of the ${cands.length} Sigstore bundle(s) passed`
    : 'no Sigstore bundle is associated with the artifact';
  return [
    {
      name,
      satisfied: false,
      by,
      checks: [...notes, check('threshold', 'fail', `0 of 1 required valid signature(s): ${reason}`, name)],
    },
  ];
}

/** Each statement's keys and trusted root, read once per loaded policy. */
const statementPolicies = new WeakMap<TrustPolicySigstore, Promise<SigstorePolicy>>();

/**
 * The artifact type (and layer type) and tag of a trusted root `signet copy --trusted-root`
 * carries beside the images (src/copy/trusted-root.ts writes them; verify/ does not import copy/).
 */
const TRUSTED_ROOT_TYPE = 'application/vnd.dev.sigstore.trustedroot.v0.1+json';
const TRUSTED_ROOT_TAG = 'sigstore-trusted-root';
const MAX_TRUSTED_ROOT_SIZE = 1024 * 1024;

/**
 * The trusted root carried in `store` (tag `sigstore-trusted-root`), read only when its bytes have
 * the pinned digest: where it was found makes it no more trusted. A missing root, another kind of
 * artifact, or a root of another digest fails (VERIFICATION_FAILED, reported as the `policy` check).
 */
export async function readCarriedTrustedRoot(store: ReadStore, pinned: string): Promise<Uint8Array> {
  const where = `the trusted root carried in ${store.name} (tag ${TRUSTED_ROOT_TAG})`;
  let desc: Descriptor;
  try {
    desc = await store.resolve(TRUSTED_ROOT_TAG);
  } catch (err) {
    if (!isNotFound(err)) throw err;
    throw new SignetError(
      'VERIFICATION_FAILED',
      `no trusted root is carried in ${store.name} (tag ${TRUSTED_ROOT_TAG}) and the statement names no trustedRoot file`
    );
  }
  const { manifest } = await fetchManifest(store, desc);
  const image = 'layers' in manifest ? (manifest as ImageManifest) : undefined;
  const layers = image?.layers ?? [];
  const layer = layers[0];
  const type = image?.artifactType;
  if (type !== TRUSTED_ROOT_TYPE || layers.length !== 1 || layer?.mediaType !== TRUSTED_ROOT_TYPE)
    throw new SignetError('VERIFICATION_FAILED', `${where} is not a Sigstore trusted root artifact`);
  if (layer.digest !== pinned)
    throw new SignetError(
      'VERIFICATION_FAILED',
      `${where} is ${layer.digest}, not the pinned trustedRootDigest ${pinned}: a root is trusted only by its digest`
    );
  // read by the pinned digest: the bytes are checked against it as they stream
  return fetchAll(store, layer, MAX_TRUSTED_ROOT_SIZE);
}

/** Carried roots, per store and statement (the same layout verified for several images reads it once). */
const carriedPolicies = new WeakMap<object, Map<TrustPolicySigstore, Promise<SigstorePolicy>>>();

/**
 * A trust policy statement's `sigstore` block, as the requirement `trust-policy:<name>:sigstore`
 * under the statement's scope: the same evaluation as `--key`/`--certificate-identity`. Keys and
 * the trusted root are read as the flags read them; a `trustedRootDigest` must match the root's
 * bytes. A block that cannot be read (a missing key, a root of another digest) fails `policy`.
 */
export async function evaluateStatementSigstore(
  st: TrustPolicyStatement,
  ctx: EvaluationContext
): Promise<RequirementReport[]> {
  const block = st.sigstore!;
  const name = `trust-policy:${st.name}:sigstore`;
  // `trustedRootDigest` without a `trustedRoot` file: the root carried beside the artifact, by its digest
  const carried = block.trustedRoot === undefined && block.trustedRootDigest !== undefined;
  const store = ctx.subject.target as object;
  const cache = carried
    ? (carriedPolicies.get(store) ?? carriedPolicies.set(store, new Map()).get(store)!)
    : statementPolicies;
  let pending = cache.get(block);
  if (!pending) {
    const root = carried
      ? readCarriedTrustedRoot(ctx.subject.target, block.trustedRootDigest!)
      : Promise.resolve(block.trustedRoot);
    pending = root
      .then((trustedRoot) =>
        sigstoreRequirement({
          keys: block.keys,
          identities: block.identities,
          ...(trustedRoot !== undefined ? { trustedRoot } : {}),
          ...(block.trustedRootDigest !== undefined ? { trustedRootDigest: block.trustedRootDigest } : {}),
        })
      )
      .then((r) => r.policy);
    cache.set(block, pending);
    pending.catch(() => cache.delete(block));
  }
  let policy: SigstorePolicy;
  try {
    policy = await pending;
  } catch (err) {
    if (!(err instanceof SignetError) || err.kind === 'inconclusive') throw err;
    return [
      {
        name,
        satisfied: false,
        by: [],
        checks: [check('policy', 'fail', `statement "${st.name}": ${err.message}`, name)],
      },
    ];
  }
  // bundles kept in another repository count beside those of the artifact's own
  const here = block.repository
    ? { ...ctx, candidates: [...ctx.candidates, ...(await ctx.candidatesIn(block.repository))] }
    : ctx;
  return evaluateSigstore({ kind: 'sigstore', name, policy }, here);
}
