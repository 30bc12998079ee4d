import { createHash, type KeyObject } from 'node:crypto';
import { createRequire } from 'node:module';
import type { Bundle } from '@sigstore/bundle';
import type { HashAlgorithm, TrustedRoot } from '@sigstore/protobuf-specs';
import type { Signer, Verifier, VerifierOptions } from '@sigstore/verify';
import { leafCertificateDer } from '../../signature/index.ts';
import { anchoredRegExp, SignetError } from '../../util/index.ts';
import { check, verdictOf, type Check, type CheckName, type Verdict } from '../report.ts';

/**
 * A keyless identity: the certificate's subject (SAN: e-mail, URI) and OIDC issuer (Fulcio
 * extension), each exact or a regular expression matched against the whole value (RE2 semantics,
 * linear time, as cosign's `--certificate-identity-regexp` with Go's RE2).
 */
export interface SigstoreIdentity {
  subject?: string;
  subjectRegExp?: string;
  issuer?: string;
  issuerRegExp?: string;
  /**
   * Fulcio's GitHub Actions extensions the certificate must carry, exactly (cosign's
   * `--certificate-github-workflow-trigger|sha|name|repository|ref`).
   */
  githubWorkflow?: Partial<Record<GithubWorkflowField, string>>;
}

/** Fulcio's GitHub workflow extensions (OIDs 1.3.6.1.4.1.57264.1.2–.6, raw strings), as cosign matches them. */
export const GITHUB_WORKFLOW_OIDS = {
  trigger: '1.3.6.1.4.1.57264.1.2',
  sha: '1.3.6.1.4.1.57264.1.3',
  name: '1.3.6.1.4.1.57264.1.4',
  repository: '1.3.6.1.4.1.57264.1.5',
  ref: '1.3.6.1.4.1.57264.1.6',
} as const;
export type GithubWorkflowField = keyof typeof GITHUB_WORKFLOW_OIDS;

/** What a Sigstore bundle must satisfy: signed by one of `keys`, or keyless by one of `identities`. */
export interface SigstorePolicy {
  keys: KeyObject[];
  identities: SigstoreIdentity[];
  /** The trusted root (Fulcio CAs, Rekor and CT log keys, TSAs); needed for keyless bundles and log entries. */
  trustedRoot?: TrustedRoot;
  /**
   * Attestations only (`--attestation-type`, cosign's `verify-attestation --type`): a bundle counts
   * only when it is a DSSE in-toto statement with exactly this predicate type.
   */
  predicateType?: string;
  /** Said in the report beside the verdict (e.g. the age of an offline, cached trusted root). */
  note?: string;
  /** No signed certificate timestamp required (a containers policy's `fulcio` names no CT log). */
  sctOptional?: boolean;
}

export interface SigstoreVerdict {
  verdict: Verdict;
  checks: Check[];
  signer?: string;
  keyId?: string;
  signingTime?: string;
  /** The DSSE in-toto predicate type, when the bundle is an attestation. */
  predicateType?: string;
}

export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';

// The Sigstore libraries (CommonJS) are required on first use, so that a verification with no
// Sigstore requirement (a Notary signature, `signet verify` by default) never loads them.
const load = createRequire(import.meta.url);
const bundleLib = (): typeof import('@sigstore/bundle') =>
  load('@sigstore/bundle') as typeof import('@sigstore/bundle');
const specsLib = (): typeof import('@sigstore/protobuf-specs') =>
  load('@sigstore/protobuf-specs') as typeof import('@sigstore/protobuf-specs');
const verifyLib = (): typeof import('@sigstore/verify') =>
  load('@sigstore/verify') as typeof import('@sigstore/verify');

let emptyRoot: TrustedRoot | undefined;
const EMPTY_ROOT = (): TrustedRoot =>
  (emptyRoot ??= specsLib().TrustedRoot.fromJSON({
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [],
    certificateAuthorities: [],
    ctlogs: [],
    timestampAuthorities: [],
  }));

/** Parses a trusted_root.json (protobuf-specs JSON); a root that does not parse is refused. */
export function parseTrustedRoot(bytes: Uint8Array, where = 'the trusted root'): TrustedRoot {
  try {
    const json = JSON.parse(Buffer.from(bytes).toString('utf8')) as Record<string, unknown>;
    if (typeof json !== 'object' || json === null || !String(json.mediaType).includes('trustedroot'))
      throw new Error('no trustedroot media type');
    return specsLib().TrustedRoot.fromJSON(json);
  } catch (err) {
    throw new SignetError('USAGE', `${where} is not a Sigstore trusted_root.json: ${(err as Error).message}`);
  }
}

/** Compiles `re` anchored at both ends with re2js; an invalid expression is a usage error. */
export function compileAnchored(re: string, what: string): (s: string) => boolean {
  try {
    return anchoredRegExp(re);
  } catch (err) {
    throw new SignetError(
      'USAGE',
      `${what} ${JSON.stringify(re)} is not a valid regular expression: ${(err as Error).message}`
    );
  }
}

/** Validates an identity (one subject and one issuer form each) and returns its matcher. */
export function identityMatcher(id: SigstoreIdentity): (subject: string, issuer: string) => boolean {
  const one = (exact: string | undefined, re: string | undefined, what: string): ((s: string) => boolean) => {
    if ((exact === undefined) === (re === undefined))
      throw new SignetError('USAGE', `a Sigstore identity needs exactly one of ${what} and ${what}RegExp`);
    return exact !== undefined ? (s) => s === exact : compileAnchored(re!, `${what}RegExp`);
  };
  const subject = one(id.subject, id.subjectRegExp, 'subject');
  const issuer = one(id.issuer, id.issuerRegExp, 'issuer');
  return (s, i) => subject(s) && issuer(i);
}

function describe(id: SigstoreIdentity): string {
  const s = id.subject !== undefined ? id.subject : `/${id.subjectRegExp}/`;
  const i = id.issuer !== undefined ? id.issuer : `/${id.issuerRegExp}/`;
  const gh = Object.entries(id.githubWorkflow ?? {}).map(([k, v]) => `github workflow ${k} ${v}`);
  return [`${s} from ${i}`, ...gh].join(', ');
}

/**
 * The GitHub workflow fields an identity requires, read from the bundle's leaf certificate
 * (parsed by @sigstore/core, which has already verified it): the fields that differ, none when all match.
 */
function workflowMismatches(id: SigstoreIdentity, bundle: Bundle): string[] {
  const want = Object.entries(id.githubWorkflow ?? {}) as Array<[GithubWorkflowField, string]>;
  if (!want.length) return [];
  const der = leafCertificateDer(bundle);
  if (!der) return want.map(([k]) => `${k} (no certificate)`);
  const { X509Certificate: Cert } = load('@sigstore/core') as typeof import('@sigstore/core');
  const leaf = Cert.parse(Buffer.from(der));
  return want
    .map(([k, v]) => [k, v, leaf.extension(GITHUB_WORKFLOW_OIDS[k])?.value.toString('utf8')] as const)
    .filter(([, v, got]) => got !== v)
    .map(([k, v, got]) => `${k} is ${got === undefined ? 'absent' : JSON.stringify(got)}, not ${JSON.stringify(v)}`);
}

function spkiId(key: KeyObject): string {
  return `sha256:${createHash('sha256')
    .update(key.export({ type: 'spki', format: 'der' }))
    .digest('hex')}`;
}

const HASHES = (): Partial<Record<HashAlgorithm, string>> => {
  const { HashAlgorithm: H } = specsLib();
  return { [H.SHA2_256]: 'sha256', [H.SHA2_384]: 'sha384', [H.SHA2_512]: 'sha512' };
};

/**
 * Which digest the bundle signs: the message signature's digest, or the subjects of the DSSE
 * in-toto statement. Returns a reason when it does not name `digest` (`sha256:<hex>`).
 */
function subjectOf(bundle: Bundle, digest: string): { ok: boolean; reason: string; predicateType?: string } {
  const [alg, hex] = digest.split(':') as [string, string];
  if (bundle.content.$case === 'messageSignature') {
    const md = bundle.content.messageSignature.messageDigest;
    if (!md) return { ok: false, reason: 'the message signature carries no digest' };
    const got = `${HASHES()[md.algorithm] ?? 'unknown'}:${Buffer.from(md.digest).toString('hex')}`;
    return got === digest
      ? { ok: true, reason: `message signature over ${digest}` }
      : { ok: false, reason: `the message signature is for ${got}, not ${digest}` };
  }
  const env = bundle.content.dsseEnvelope;
  if (env.payloadType !== IN_TOTO_PAYLOAD_TYPE)
    return { ok: false, reason: `the DSSE payload type is ${env.payloadType}, not ${IN_TOTO_PAYLOAD_TYPE}` };
  let st: { subject?: Array<{ digest?: Record<string, string> }>; predicateType?: string };
  try {
    st = JSON.parse(Buffer.from(env.payload).toString('utf8')) as typeof st;
  } catch {
    return { ok: false, reason: 'the DSSE payload is not an in-toto statement' };
  }
  const predicateType = typeof st.predicateType === 'string' ? st.predicateType : undefined;
  const digests = (Array.isArray(st.subject) ? st.subject : []).map((s) => s?.digest?.[alg]);
  const extra = predicateType ? { predicateType } : {};
  return digests.includes(hex)
    ? { ok: true, reason: `in-toto statement subject ${digest}`, ...extra }
    : {
        ok: false,
        reason: `the in-toto statement's subjects (${
          digests
            .filter(Boolean)
            .map((d) => `${alg}:${d}`)
            .join(', ') || 'none'
        }) do not include ${digest}`,
        ...extra,
      };
}

/** The stages of `Verifier.verify`, in its order, with the check each error code names. */
const STAGES: Array<{ name: CheckName; codes: string[] }> = [
  { name: 'authentic-timestamp', codes: ['TIMESTAMP_ERROR'] },
  { name: 'certificate-chain', codes: ['CERTIFICATE_ERROR', 'PUBLIC_KEY_ERROR'] },
  {
    name: 'transparency-log',
    codes: [
      'TLOG_ERROR',
      'TLOG_INCLUSION_PROOF_ERROR',
      'TLOG_INCLUSION_PROMISE_ERROR',
      'TLOG_MISSING_INCLUSION_ERROR',
      'TLOG_BODY_ERROR',
    ],
  },
  { name: 'integrity', codes: ['SIGNATURE_ERROR'] },
];

function run(
  verifier: Verifier,
  bundle: Bundle,
  artifact: Buffer | undefined
): { signer?: Signer; failed?: { stage: number; name: CheckName; reason: string } } {
  try {
    return { signer: verifier.verify(verifyLib().toSignedEntity(bundle, artifact)) };
  } catch (err) {
    const code = (err as { code?: string }).code ?? '';
    let stage = STAGES.findIndex((s) => s.codes.includes(code));
    let message = (err as Error).message;
    const cause = (err as { cause?: unknown }).cause;
    if (cause instanceof Error) message += `: ${cause.message}`;
    let name: CheckName = stage >= 0 ? STAGES[stage]!.name : 'integrity';
    if (code === 'CERTIFICATE_ERROR' && /SCT/.test(message)) name = 'sct';
    if (stage < 0) stage = STAGES.length - 1;
    return { failed: { stage, name, reason: message } };
  }
}

/**
 * The most RFC 3161 timestamps and transparency log entries a bundle may carry (docs/security.md):
 * cosign writes one log entry and at most one timestamp, and each is a signature (and for a
 * timestamp a CMS chain) to verify — 94 timestamps took 3.5 s before this bound.
 */
export const MAX_BUNDLE_TIMESTAMPS = 16;
export const MAX_BUNDLE_TLOG_ENTRIES = 16;

function overBounds(bundle: Bundle): string | undefined {
  const vm = bundle.verificationMaterial;
  const stamps = vm.timestampVerificationData?.rfc3161Timestamps.length ?? 0;
  if (stamps > MAX_BUNDLE_TIMESTAMPS)
    return `the bundle carries ${stamps} RFC 3161 timestamps, at most ${MAX_BUNDLE_TIMESTAMPS} are read`;
  if (vm.tlogEntries.length > MAX_BUNDLE_TLOG_ENTRIES)
    return `the bundle carries ${vm.tlogEntries.length} transparency log entries, at most ${MAX_BUNDLE_TLOG_ENTRIES} are read`;
  return undefined;
}

/**
 * A Sigstore bundle (v0.1–v0.3; message signature or DSSE) for the artifact `digest`: the bundle
 * parses, it names this digest, and it verifies with @sigstore/verify — by one of the policy's
 * keys, or keyless (Fulcio chain, SCT, transparency log, timestamps) with an identity and issuer
 * the policy names, matched by Signet. `artifact`: the signed bytes, needed for a message
 * signature (an image's manifest, a blob's content).
 */
export function verifySigstoreBundle(args: {
  bundle: Uint8Array | undefined;
  unreadable?: string;
  digest: string;
  artifact?: Uint8Array;
  policy: SigstorePolicy;
  requirement: string;
}): SigstoreVerdict {
  const rq = args.requirement;
  const done = (checks: Check[], extra: Partial<SigstoreVerdict> = {}): SigstoreVerdict => ({
    verdict: verdictOf(checks),
    checks,
    ...extra,
  });
  if (!args.bundle) return done([check('integrity', 'fail', args.unreadable ?? 'no bundle', rq)]);
  let bundle: Bundle;
  try {
    bundle = bundleLib().bundleFromJSON(JSON.parse(Buffer.from(args.bundle).toString('utf8')));
  } catch (err) {
    return done([check('integrity', 'fail', `not a Sigstore bundle: ${(err as Error).message}`, rq)]);
  }
  const bound = overBounds(bundle);
  if (bound) return done([check('integrity', 'fail', bound, rq)]);
  const checks: Check[] = [];
  const subject = subjectOf(bundle, args.digest);
  const extra: Partial<SigstoreVerdict> = subject.predicateType ? { predicateType: subject.predicateType } : {};
  checks.push(check('subject', subject.ok ? 'pass' : 'fail', subject.reason, rq));
  if (!subject.ok) return done(checks, extra);
  const wanted = args.policy.predicateType;
  if (wanted !== undefined) {
    const got = subject.predicateType;
    checks.push(
      got === wanted
        ? check('predicate-type', 'pass', `in-toto predicate type ${got}`, rq)
        : check(
            'predicate-type',
            'fail',
            bundle.content.$case === 'messageSignature'
              ? `a message signature is no attestation of type ${wanted}`
              : `the in-toto predicate type is ${got ?? '(none)'}, not ${wanted}`,
            rq
          )
    );
    if (got !== wanted) return done(checks, extra);
  }
  const artifact =
    bundle.content.$case === 'messageSignature'
      ? args.artifact && Buffer.from(args.artifact.buffer, args.artifact.byteOffset, args.artifact.byteLength)
      : undefined;
  if (bundle.content.$case === 'messageSignature' && !artifact)
    return done(
      [
        ...checks,
        check('integrity', 'fail', 'a message signature needs the signed bytes, and they are not at hand', rq),
      ],
      extra
    );
  const keyed = bundle.verificationMaterial.content.$case === 'publicKey';
  const tlogs = bundle.verificationMaterial.tlogEntries.length;
  const passes = (upTo: number, names: CheckName[]): Check[] =>
    STAGES.slice(0, upTo)
      .map((s) => s.name)
      .filter((n) => names.includes(n))
      .map((n) => check(n, 'pass', undefined, rq));

  if (keyed) {
    if (!args.policy.keys.length)
      return done(
        [...checks, check('authenticity', 'fail', 'a key-based bundle, and no public key is given', rq)],
        extra
      );
    // Key-based, as cosign --key: a log entry or timestamp present must verify; none is required.
    const options: VerifierOptions = { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 };
    const root = args.policy.trustedRoot ?? EMPTY_ROOT();
    let last: { stage: number; name: CheckName; reason: string } | undefined;
    for (const key of args.policy.keys) {
      const { Verifier: V, toTrustMaterial } = verifyLib();
      const v = new V(
        toTrustMaterial(root, () => ({ publicKey: key, validFor: () => true })),
        options
      );
      const r = run(v, bundle, artifact);
      if (r.signer) {
        const id = spkiId(key);
        return done(
          [
            ...checks,
            check('authenticity', 'pass', `signed by the public key ${id}`, rq),
            check(
              'transparency-log',
              tlogs ? 'pass' : 'skipped',
              tlogs
                ? `${tlogs} log entr${tlogs > 1 ? 'ies' : 'y'} verified`
                : 'no log entry (signed without a transparency log)',
              rq
            ),
          ],
          { ...extra, signer: id, keyId: id }
        );
      }
      if (r.failed!.name !== 'integrity') last = r.failed;
    }
    if (last && last.name === 'transparency-log')
      return done([...checks, check('transparency-log', 'fail', last.reason, rq)], extra);
    return done(
      [...checks, check('authenticity', 'fail', 'the bundle does not verify with any of the given public keys', rq)],
      extra
    );
  }

  if (!args.policy.identities.length)
    return done(
      [
        ...checks,
        check('certificate-identity', 'fail', 'a keyless bundle, and no certificate identity is required', rq),
      ],
      extra
    );
  if (!args.policy.trustedRoot)
    return done([...checks, check('certificate-chain', 'fail', 'no Sigstore trusted root is configured', rq)], extra);
  const { Verifier: V, toTrustMaterial } = verifyLib();
  // containers/image's keyless form names a Fulcio CA and Rekor keys only: no CT log, no SCT to require
  const noSct = args.policy.sctOptional === true;
  const r = run(
    new V(toTrustMaterial(args.policy.trustedRoot), noSct ? { ctlogThreshold: 0 } : undefined),
    bundle,
    artifact
  );
  const all: CheckName[] = ['authentic-timestamp', 'certificate-chain', 'sct', 'transparency-log', 'integrity'];
  if (!r.signer) {
    const f = r.failed!;
    const before = passes(f.stage, all);
    if (f.name === 'sct') before.push(check('certificate-chain', 'pass', undefined, rq));
    const why =
      f.name === 'sct' && noSct
        ? `${f.reason}: the certificate carries SCTs and the policy names no CT log to check them against (use a trust policy sigstore statement with a trustedRoot)`
        : f.reason;
    return done([...checks, ...before, check(f.name, 'fail', why, rq)], extra);
  }
  const passed: Check[] = [
    check('authentic-timestamp', 'pass', undefined, rq),
    check('certificate-chain', 'pass', undefined, rq),
    noSct
      ? check('sct', 'skipped', 'not required (a containers policy names no CT log)', rq)
      : check('sct', 'pass', undefined, rq),
    check('transparency-log', 'pass', `${tlogs} log entr${tlogs === 1 ? 'y' : 'ies'} verified`, rq),
    check('integrity', 'pass', undefined, rq),
  ];
  const san = r.signer.identity?.subjectAlternativeName ?? '';
  const issuer = r.signer.identity?.extensions?.issuer ?? '';
  const named = args.policy.identities.filter((id) => identityMatcher(id)(san, issuer));
  const match = named.find((id) => !workflowMismatches(id, bundle).length);
  const workflow = named.length && !match ? workflowMismatches(named[0]!, bundle) : [];
  const idCheck = match
    ? check('certificate-identity', 'pass', `${san} from ${issuer} (matches ${describe(match)})`, rq)
    : check(
        'certificate-identity',
        'fail',
        workflow.length
          ? `${san} from ${issuer}, but the certificate's GitHub workflow ${workflow.join('; ')}`
          : `${san || '(no subject)'} from ${issuer || '(no issuer)'} matches none of: ${args.policy.identities.map(describe).join('; ')}`,
        rq
      );
  return done([...checks, ...passed, idCheck], { ...extra, signer: san, keyId: spkiId(r.signer.key) });
}
