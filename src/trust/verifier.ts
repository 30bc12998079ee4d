import type { X509Certificate } from 'node:crypto';
import type { Descriptor } from '../oci/index.ts';
import {
  chainValidAt,
  checkRevocation,
  describeCert,
  verifyTimestampToken,
  type RevocationOptions,
} from '../pki/index.ts';
import { verifyEnvelopeIntegrity, type EnvelopeContent } from '../signature/index.ts';
import { isValidDate, SignetError } from '../util/index.ts';
import { identityMatches, subjectAttributes } from './identity.ts';
import { loadVerificationPlugin, namedVerificationPlugin, runVerificationPlugin } from './verification-plugin.ts';
import type { Action, CheckType, TrustPolicyStatement } from './policy.ts';
import type { TrustStore } from './truststore.ts';

export type ResultType = CheckType | 'payload' | 'userMetadata' | 'policy';

/** One check's outcome; the level decided its action. */
export interface ValidationResult {
  type: ResultType;
  action: Action;
  ok: boolean;
  message?: string;
}

export interface VerificationOutcome {
  verified: boolean;
  results: ValidationResult[];
  /** The envelope's content once integrity passed. */
  content?: EnvelopeContent;
  statement: string;
  /**
   * For a verified signature: the earliest moment its verdict may change — the signature's
   * expiry, a chain certificate's notAfter, or the nextUpdate of the revocation evidence.
   */
  validUntil?: Date;
}

export type RevocationStatus = {
  status: 'good' | 'revoked' | 'unknown' | 'unavailable';
  message?: string;
  nextUpdate?: Date;
};

// A certificate's notAfter as a time value, per certificate object: the same chain objects come
// with every signature of one signer (certificateFromDer shares them), and parsing the date string
// again each time is a measurable part of a verification. A WeakMap: gone with the certificates;
// the value is a pure function of the (immutable) certificate.
const notAfters = new WeakMap<X509Certificate, number>();

function notAfter(c: X509Certificate): number {
  let t = notAfters.get(c);
  if (t === undefined) {
    t = new Date(c.validTo).getTime();
    notAfters.set(c, t);
  }
  return t;
}

/** The earliest of the signature's expiry, its chain's notAfter dates and the revocation nextUpdate. */
function validUntilOf(content: EnvelopeContent, revocationNext: Date | undefined): Date | undefined {
  let earliest = Infinity;
  const consider = (t: number): void => {
    if (Number.isFinite(t) && t < earliest) earliest = t;
  };
  for (const c of content.signerInfo.certificateChain) consider(notAfter(c));
  if (content.signerInfo.expiry) consider(content.signerInfo.expiry.getTime());
  if (revocationNext) consider(revocationNext.getTime());
  return earliest === Infinity ? undefined : new Date(earliest);
}

export interface VerifyOptions {
  userMetadata?: Record<string, string>;
  now?: Date;
  /** RFC 3161 countersignature check (the PKI work provides it); without one, a triggered check fails. */
  timestampVerifier?: (
    content: EnvelopeContent,
    tsaRoots: X509Certificate[],
    now: Date
  ) => Promise<{ ok: boolean; message?: string; time?: Date }>;
  /** OCSP/CRL checker (the PKI work provides it). */
  revocation?: (chain: X509Certificate[], options: { now: Date; signingTime?: Date }) => Promise<RevocationStatus>;
  /** Cache, offline mode and bundled CRLs for the built-in OCSP/CRL checker. */
  revocationOptions?: Omit<RevocationOptions, 'now'>;
  /** Where verification plugins are installed (default $SIGNET_HOME). */
  pluginHome?: string;
  /** Critical attributes a verification plugin processes. */
  processedCriticalAttributes?: string[];
}

function result(type: ResultType, action: Action, ok: boolean, message?: string): ValidationResult {
  return message === undefined ? { type, action, ok } : { type, action, ok, message };
}

type AuthenticityResult = { ok: boolean; message?: string; trusted: boolean };

/**
 * The authenticity check. Synchronous when every trust store it reads is unchanged since it was
 * last loaded (TrustStore.cachedCertificates, the same lstat checks as getCertificates), which is
 * the steady state; otherwise it returns the promise of the same check reading the stores.
 */
function authenticity(
  content: EnvelopeContent,
  st: TrustPolicyStatement,
  store: TrustStore,
  identityByPlugin = false
): AuthenticityResult | Promise<AuthenticityResult> {
  // The store type follows the signing scheme: a signingAuthority signature is never trusted through a ca store.
  const type = content.signerInfo.signingScheme === 'notary.x509' ? 'ca' : 'signingAuthority';
  const names = st.trustStores.filter((s) => s.type === type);
  if (!names.length)
    return {
      ok: false,
      trusted: false,
      message: `the policy "${st.name}" names no trust store of type "${type}" (needed for ${content.signerInfo.signingScheme} signatures)`,
    };
  const anchors: X509Certificate[] = [];
  for (const s of names) {
    let certs;
    try {
      certs = store.cachedCertificates(s.type, s.name);
    } catch (err) {
      return { ok: false, trusted: false, message: (err as Error).message };
    }
    if (!certs) return authenticityReading(content, st, store, names, identityByPlugin);
    for (const c of certs) anchors.push(c);
  }
  return judgeAuthenticity(content, st, names, anchors, identityByPlugin);
}

/** authenticity, reading the trust stores (some changed since they were last loaded, or never were). */
async function authenticityReading(
  content: EnvelopeContent,
  st: TrustPolicyStatement,
  store: TrustStore,
  names: TrustPolicyStatement['trustStores'],
  identityByPlugin: boolean
): Promise<AuthenticityResult> {
  const anchors: X509Certificate[] = [];
  for (const s of names) {
    try {
      anchors.push(...(await store.getCertificates(s.type, s.name)));
    } catch (err) {
      return { ok: false, trusted: false, message: (err as Error).message };
    }
  }
  return judgeAuthenticity(content, st, names, anchors, identityByPlugin);
}

function judgeAuthenticity(
  content: EnvelopeContent,
  st: TrustPolicyStatement,
  names: TrustPolicyStatement['trustStores'],
  anchors: X509Certificate[],
  identityByPlugin: boolean
): AuthenticityResult {
  const chain = content.signerInfo.certificateChain;
  // X509Certificate.raw is a Buffer already (and kept by the object): compared without copies.
  const trusted = chain.some((c) => anchors.some((a) => a === c || a.raw.equals(c.raw)));
  if (!trusted)
    return {
      ok: false,
      trusted: false,
      message: `the signature's certificate chain does not chain to any certificate of trust store(s) ${names.map((n) => `${n.type}:${n.name}`).join(', ')}`,
    };
  const ids = st.trustedIdentities;
  if (ids.includes('*') || identityByPlugin) return { ok: true, trusted };
  const subject = subjectAttributes(chain[0]!);
  const x509Ids = ids.filter((i): i is Map<string, string> => i !== '*');
  if (!x509Ids.length) return { ok: false, trusted, message: 'no x509 trusted identities are configured' };
  if (!x509Ids.some((id) => identityMatches(id, subject))) {
    return {
      ok: false,
      trusted,
      message: `signing certificate subject "${describeCert(chain[0]!)}" does not match any trusted identity of policy "${st.name}"`,
    };
  }
  return { ok: true, trusted };
}

/** The authentic-timestamp check: synchronous unless a timestamp countersignature must be verified. */
function authenticTimestamp(
  content: EnvelopeContent,
  st: TrustPolicyStatement,
  store: TrustStore,
  now: Date,
  options: VerifyOptions
): { ok: boolean; message?: string } | Promise<{ ok: boolean; message?: string }> {
  const chain = content.signerInfo.certificateChain;
  if (content.signerInfo.signingScheme === 'notary.x509.signingAuthority') {
    const r = chainValidAt(chain, content.signerInfo.authenticSigningTime!);
    return r.ok ? { ok: true } : { ok: false, message: `authentic signing time: ${r.message}` };
  }
  const tsaStores = st.trustStores.filter((s) => s.type === 'tsa');
  const triggered =
    tsaStores.length > 0 && (st.verifyTimestamp === 'always' || chain.some((c) => now.getTime() > notAfter(c)));
  if (!triggered) {
    const r = chainValidAt(chain, now);
    return r.ok ? { ok: true } : { ok: false, message: `verification time ${r.message}` };
  }
  return countersignedTimestamp(content, tsaStores, store, now, options);
}

async function countersignedTimestamp(
  content: EnvelopeContent,
  tsaStores: TrustPolicyStatement['trustStores'],
  store: TrustStore,
  now: Date,
  options: VerifyOptions
): Promise<{ ok: boolean; message?: string }> {
  if (!content.signerInfo.timestampSignature)
    return {
      ok: false,
      message: 'no timestamp countersignature was found in the signature envelope, and the policy requires one',
    };
  const roots: X509Certificate[] = [];
  for (const s of tsaStores) {
    try {
      roots.push(...(await store.getCertificates('tsa', s.name)));
    } catch (err) {
      return { ok: false, message: (err as Error).message };
    }
  }
  if (options.timestampVerifier) return options.timestampVerifier(content, roots, now);
  return verifyCountersignature(content, roots, now, options.revocationOptions);
}

/** RFC 3161 countersignature (notary-spec §12.6): token valid, and genTime ± accuracy inside every signing certificate's validity. */
async function verifyCountersignature(
  content: EnvelopeContent,
  roots: X509Certificate[],
  now: Date,
  revocationOptions?: VerifyOptions['revocationOptions']
): Promise<{ ok: boolean; message?: string }> {
  let ts;
  try {
    ts = await verifyTimestampToken(content.signerInfo.timestampSignature!, content.signerInfo.signature, roots);
  } catch (err) {
    if (err instanceof SignetError && err.kind === 'failed') return { ok: false, message: err.message };
    throw err;
  }
  const earliest = new Date(ts.genTime.getTime() - ts.accuracyMs);
  const latest = new Date(ts.genTime.getTime() + ts.accuracyMs);
  for (const c of content.signerInfo.certificateChain) {
    if (earliest < new Date(c.validFrom))
      return {
        ok: false,
        message: `timestamp ${ts.genTime.toISOString()} (±${ts.accuracyMs} ms) can be before certificate ${describeCert(c)} validity period`,
      };
    if (latest > new Date(c.validTo))
      return {
        ok: false,
        message: `timestamp ${ts.genTime.toISOString()} (±${ts.accuracyMs} ms) can be after certificate ${describeCert(c)} validity period`,
      };
  }
  // The TSA's own chain must not be revoked (notary-spec §12.6 vii): revoked or undeterminable fails.
  const tsaRevocation = await checkRevocation(ts.chain, { ...revocationOptions, now });
  if (tsaRevocation.status !== 'good')
    return { ok: false, message: `TSA certificate revocation: ${tsaRevocation.message ?? tsaRevocation.status}` };
  return { ok: true, message: `timestamped at ${ts.genTime.toISOString()} by ${describeCert(ts.chain[0]!)}` };
}

/**
 * Verifies one envelope against one policy statement in the order of notary-spec §12. Every check
 * yields a result; the statement's level decides whether a failure is enforced (stops and fails),
 * logged, or skipped. Integrity, the payload match and user metadata are always enforced.
 */
export async function verifySignature(args: {
  envelope: Uint8Array;
  mediaType: string;
  subject: Pick<Descriptor, 'mediaType' | 'digest' | 'size'>;
  statement: TrustPolicyStatement;
  trustStore: TrustStore;
  options?: VerifyOptions;
}): Promise<VerificationOutcome> {
  const { statement: st, options = {} } = args;
  if (options.now !== undefined && !isValidDate(options.now))
    throw new SignetError('INPUT_INVALID', 'the verification time must be a valid Date');
  const now = options.now ?? new Date();
  const results: ValidationResult[] = [];
  const outcome = (verified: boolean, content?: EnvelopeContent): VerificationOutcome => {
    const o: VerificationOutcome = { verified, results, statement: st.name };
    if (content) o.content = content;
    return o;
  };
  if (st.level === 'skip') {
    for (const t of ['integrity', 'authenticity', 'authenticTimestamp', 'expiry', 'revocation'] as const)
      results.push(result(t, 'skip', true, 'verification level is skip'));
    return outcome(true);
  }
  let content: EnvelopeContent;
  try {
    // Critical attributes are judged below, once it is known whether a verification plugin takes them.
    content = await verifyEnvelopeIntegrity(args.envelope, args.mediaType, { allowUnknownCritical: true });
  } catch (err) {
    if (err instanceof SignetError && err.kind !== 'failed') throw err;
    results.push(result('integrity', 'enforce', false, (err as Error).message));
    return outcome(false);
  }
  // A signature that names a verification plugin needs it (inconclusive when it cannot be used);
  // without one, any critical attribute nobody here understands fails integrity. (An envelope that
  // names no plugin, the usual case, needs no await.)
  const attrs = content.signerInfo.extendedAttributes;
  const plugin =
    namedVerificationPlugin(content) === undefined
      ? undefined
      : await loadVerificationPlugin(content, options.pluginHome);
  let unknown: string[] = [];
  if (attrs.some((a) => a.critical)) {
    const processed = new Set(plugin ? plugin.criticalAttributes : (options.processedCriticalAttributes ?? []));
    unknown = attrs.filter((a) => a.critical && !processed.has(a.key)).map((a) => a.key);
  }
  if (unknown.length) {
    results.push(
      result(
        'integrity',
        'enforce',
        false,
        `unknown critical attribute${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}: no verifier here processes ${unknown.length > 1 ? 'them' : 'it'}`
      )
    );
    return outcome(false, content);
  }
  results.push(result('integrity', 'enforce', true));
  let revocationNext: Date | undefined;
  // Each remaining check: record it, and stop at the first enforced failure.
  const apply = (type: CheckType, r: { ok: boolean; message?: string }): boolean => {
    const action = st.actions[type];
    results.push(result(type, action, r.ok, r.message));
    return !(action === 'enforce' && !r.ok);
  };
  // Whether the chain reaches the trust store decides more than authenticity: an untrusted chain's
  // OCSP and CRL URLs are the attacker's, and are never fetched (at audit, authenticity is only logged).
  const authPending = authenticity(content, st, args.trustStore, plugin?.capabilities.trustedIdentity);
  const auth = authPending instanceof Promise ? await authPending : authPending;
  if (st.actions.authenticity !== 'skip' && !apply('authenticity', auth)) return outcome(false, content);
  if (st.actions.expiry !== 'skip') {
    const exp = content.signerInfo.expiry;
    const expired = exp !== undefined && now.getTime() >= exp.getTime();
    if (
      !apply(
        'expiry',
        expired ? { ok: false, message: `digital signature has expired on "${exp!.toUTCString()}"` } : { ok: true }
      )
    )
      return outcome(false, content);
  }
  if (st.actions.authenticTimestamp !== 'skip') {
    const pending = authenticTimestamp(content, st, args.trustStore, now, options);
    if (!apply('authenticTimestamp', pending instanceof Promise ? await pending : pending))
      return outcome(false, content);
  }
  if (st.actions.revocation !== 'skip' && !plugin?.capabilities.revocation && !auth.trusted) {
    // Skipped, not failed: whoever made an untrusted chain could as well have named no responder
    // (not revocable), so asking its URLs proves nothing and only lets the attacker make us fetch.
    results.push(
      result('revocation', 'skip', true, 'revocation not checked: the certificate chain does not reach the trust store')
    );
  } else if (st.actions.revocation !== 'skip' && !plugin?.capabilities.revocation) {
    const chain = content.signerInfo.certificateChain;
    const sa = content.signerInfo.authenticSigningTime;
    const when: { now: Date; signingTime?: Date } = { now };
    if (content.signerInfo.signingTime) when.signingTime = content.signerInfo.signingTime;
    let rs: RevocationStatus;
    if (options.revocation) rs = await options.revocation(chain, when);
    else {
      const ro: RevocationOptions = { ...options.revocationOptions, now };
      if (sa) ro.notRevokedBefore = sa;
      rs = await checkRevocation(chain, ro);
    }
    // A responder that cannot be reached makes an enforced check inconclusive (exit 3), not failed.
    if (rs.status === 'unavailable' && st.actions.revocation === 'enforce') {
      throw new SignetError(
        'VERIFICATION_INCONCLUSIVE',
        `revocation status could not be determined: ${rs.message ?? 'responder unavailable'}`
      );
    }
    const r: { ok: boolean; message?: string } =
      rs.status === 'good'
        ? rs.message
          ? { ok: true, message: rs.message }
          : { ok: true }
        : { ok: false, message: rs.message ?? `certificate revocation status is ${rs.status}` };
    if (rs.nextUpdate) revocationNext = rs.nextUpdate;
    if (!apply('revocation', r)) return outcome(false, content);
  }
  if (plugin) {
    const verdict = await runVerificationPlugin(plugin, content, st);
    if (verdict.unprocessed.length) {
      results.push(
        result(
          'integrity',
          'enforce',
          false,
          `verification plugin ${plugin.client.name} did not process the critical attribute(s) ${verdict.unprocessed.join(', ')}`
        )
      );
      return outcome(false, content);
    }
    if (verdict.trustedIdentity && !apply('authenticity', verdict.trustedIdentity)) return outcome(false, content);
    if (verdict.revocation && !apply('revocation', verdict.revocation)) return outcome(false, content);
  }
  const t = content.targetArtifact;
  const s = args.subject;
  if (t.mediaType !== s.mediaType || t.digest !== s.digest || t.size !== s.size) {
    results.push(
      result(
        'payload',
        'enforce',
        false,
        `content descriptor mismatch: the signature is for ${t.mediaType} ${t.digest} (${t.size} bytes), the artifact is ${s.mediaType} ${s.digest} (${s.size} bytes)`
      )
    );
    return outcome(false, content);
  }
  results.push(result('payload', 'enforce', true));
  const wanted = options.userMetadata ?? {};
  if (Object.keys(wanted).length) {
    const have = t.annotations ?? {};
    const missing = Object.entries(wanted).filter(([k, v]) => have[k] !== v);
    if (missing.length) {
      results.push(
        result(
          'userMetadata',
          'enforce',
          false,
          `the signature does not carry the required metadata ${missing.map(([k, v]) => `${k}=${v}`).join(', ')}`
        )
      );
      return outcome(false, content);
    }
    results.push(result('userMetadata', 'enforce', true));
  }
  const until = validUntilOf(content, revocationNext);
  const verified = outcome(true, content);
  if (until) verified.validUntil = until;
  return verified;
}
