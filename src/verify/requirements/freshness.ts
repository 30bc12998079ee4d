import type { X509Certificate } from 'node:crypto';
import type { TrustedTuf } from '../../freshness/index.ts';
import { openTarget } from '../../store/index.ts';
import type { TrustPolicyStatement, TrustStore } from '../../trust/index.ts';
import { parseDuration, SignetError } from '../../util/index.ts';
import { check, type Check, type RequirementReport } from '../report.ts';
import { expectedBinding } from './name-binding.ts';
import type { EvaluationContext } from './types.ts';

// freshness/ (TUF, @tufjs/models) loads only for a statement with `freshness`.
const tuf = (): Promise<typeof import('../../freshness/index.ts')> => import('../../freshness/index.ts');

/**
 * Layer B of freshness (docs/freshness.md) under a statement with `freshness`: the statement's
 * TUF repository is refreshed from its pinned first root through the TUF client workflow (the
 * reference time is the verification's `now`), and the current targets must name the resolved
 * digest for the requested name and tag. One named check, `freshness`, failing closed: no
 * metadata, bad metadata, an expired role, a withdrawn release or another digest all fail it.
 */
export async function freshnessCheck(
  st: TrustPolicyStatement,
  ctx: EvaluationContext,
  report: RequirementReport,
  tuf: StatementTuf
): Promise<void> {
  const f = st.freshness!;
  const rq = report.name;
  const d = ctx.subject.descriptor;
  const out = (outcome: 'pass' | 'fail' | 'inconclusive', reason: string): void => {
    report.checks.push(check('freshness', outcome, reason, rq));
    if (outcome !== 'pass') report.satisfied = false;
  };
  const expected = expectedBinding(st, ctx);
  if (!expected.name)
    return out(
      'fail',
      `a layout has no repository name: give --name NAME or a names entry "oci:<path glob>" in statement "${st.name}"`
    );
  try {
    const [outcome, reason] = await tuf.use(async (trusted) => {
      const [o, r] = await judge(trusted, expected.name!, expected.tag, d, f.tuf);
      const stale = trusted.stale.length ? ` — offline, accepted stale: ${trusted.stale.join('; ')}` : '';
      return [o, `${r}${o === 'pass' ? stale : ''}`] as const;
    });
    return out(outcome, reason);
  } catch (err) {
    return out(refusal(err), `TUF metadata ${f.tuf} refused: ${(err as Error).message}`);
  }
}

/** A failure to read or trust the TUF metadata: unreachable is inconclusive, anything else fails. */
function refusal(err: unknown): 'inconclusive' | 'fail' {
  const kind = err instanceof SignetError ? err.kind : 'io';
  return kind === 'inconclusive' || kind === 'io' ? 'inconclusive' : 'fail';
}

/**
 * A statement's TUF repository, refreshed once per verification (its pinned root, the
 * verification's reference time, the offline grace under `--offline`) and shared by Layers C and
 * B: both judge the same metadata, read once. Opened on first use; `close` releases the store it
 * reads (delegated roles are read lazily while it is open). A refresh that fails is the answer of
 * every use.
 */
export class StatementTuf {
  private session: Promise<{ trusted: TrustedTuf; close(): Promise<void> }> | undefined;

  constructor(
    private readonly st: TrustPolicyStatement,
    private readonly ctx: EvaluationContext
  ) {}

  use<T>(fn: (trusted: TrustedTuf) => Promise<T>): Promise<T> {
    this.session ??= this.open();
    return this.session.then((s) => fn(s.trusted));
  }

  async close(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    await session?.then(
      (s) => s.close(),
      () => undefined // a refresh that failed closed its store already
    );
  }

  private async open(): Promise<{ trusted: TrustedTuf; close(): Promise<void> }> {
    const f = this.st.freshness!;
    const ctx = this.ctx;
    const opened = await openTarget(f.tuf);
    try {
      if (!opened.reference || opened.parsed.digest)
        throw new SignetError('POLICY_INVALID', `freshness.tuf ${f.tuf} names no tag`);
      const { refreshTuf } = await tuf();
      const trusted = await refreshTuf(opened.target, opened.reference, f.root, {
        ...(ctx.verifyOptions.now ? { now: ctx.verifyOptions.now } : {}),
        // by digest, Layer B looks through every delegated role for the release
        loadAllDelegated: !expectedBinding(this.st, ctx).tag,
        ...(ctx.offline
          ? { offline: f.offlineGrace !== undefined ? { grace: parseDuration(f.offlineGrace) } : {} }
          : {}),
      });
      return { trusted, close: () => opened.target.close() };
    } catch (err) {
      await opened.target.close();
      throw err;
    }
  }
}

/**
 * Layer C (docs/freshness.md) under a statement with `freshness.trustStore`: each of its trust
 * stores keeps only the certificates that are current TUF targets `x509:<type>:<name>/<sha256>`
 * (`signet tuf trust`), so a certificate removed there is revoked offline, and the timestamp's
 * expiry keeps an old list from being replayed. When the metadata cannot be trusted, no
 * certificate is: every signature then fails authenticity (fail closed).
 */
export async function trustMaterialThroughTuf(
  st: TrustPolicyStatement,
  store: TrustStore,
  rq: string,
  statementTuf: StatementTuf
): Promise<{ store: TrustStore; check: Check }> {
  const f = st.freshness!;
  const allowed = new Map<string, X509Certificate[]>();
  const notes: string[] = [];
  let result: Check;
  try {
    await statementTuf.use(async (trusted) => {
      const { certificateTargetPath } = await tuf();
      for (const { type, name } of st.trustStores) {
        const ref = `${type}:${name}`;
        const keep: X509Certificate[] = [];
        const dropped: string[] = [];
        for (const c of await store.getCertificates(type, name)) {
          const path = certificateTargetPath(ref, c.raw);
          const t = (await trusted.findTarget(path))?.target;
          if (t && t.length === c.raw.length && t.hashes.sha256 === path.slice(path.lastIndexOf('/') + 1)) keep.push(c);
          else dropped.push(c.subject.replace(/\n/g, ', '));
        }
        allowed.set(ref, keep);
        notes.push(
          `${ref}: ${keep.length} of ${keep.length + dropped.length} certificate(s) current${dropped.length ? ` (not a current target, so not trusted: ${dropped.join('; ')})` : ''}`
        );
      }
      const stale = trusted.stale.length ? ` — offline, accepted stale: ${trusted.stale.join('; ')}` : '';
      notes.push(`in ${f.tuf} (targets version ${trusted.targets.signed.version})${stale}`);
    });
    result = check('freshness', 'pass', `trust material through TUF: ${notes.join('; ')}`, rq);
  } catch (err) {
    for (const { type, name } of st.trustStores) allowed.set(`${type}:${name}`, []);
    result = check(
      'freshness',
      refusal(err),
      `trust material through TUF: ${f.tuf} refused, no certificate of ${st.trustStores.map((x) => `${x.type}:${x.name}`).join(', ')} is trusted: ${(err as Error).message}`,
      rq
    );
  }
  // The same store with each named store reduced to what TUF lists (a view: nothing is written).
  const view = store.narrowed(allowed);
  return { store: view, check: result };
}

/** The current release for the name (and tag) against the resolved digest; lazily walks delegations (§5.6.7). */
async function judge(
  trusted: TrustedTuf,
  name: string,
  tag: string | undefined,
  d: { digest: string; size: number },
  where: string
): Promise<['pass' | 'fail', string]> {
  const hex = d.digest.replace(/^sha256:/, '');
  const versions = `targets version ${trusted.targets.signed.version}, timestamp version ${trusted.timestamp.signed.version} (expires ${trusted.timestamp.signed.expires})`;
  if (tag) {
    const path = (await tuf()).targetPath(name, tag);
    const found = await trusted.findTarget(path);
    if (!found)
      return ['fail', `${path} is not a current release in ${where} (${versions}): withdrawn, or never published`];
    const t = found.target;
    const by = found.role === 'targets' ? '' : ` (delegated role ${found.role})`;
    if (t.hashes.sha256 !== hex || t.length !== d.size)
      return [
        'fail',
        `the tag names ${d.digest}, but ${where} names sha256:${t.hashes.sha256} for ${path}${by} (${versions}): the tag was rolled back or swapped`,
      ];
    return ['pass', `${path} is ${d.digest} in ${where}${by} (${versions})`];
  }
  // By digest: some current release of this name must be that digest, as its authoritative role says.
  const prefix = `oci:${name}:`;
  const candidates = [trusted.targets, ...[...trusted.delegated.values()].map((x) => x.md)]
    .flatMap((md) => Object.values(md.signed.targets))
    .filter((t) => t.path.startsWith(prefix) && t.hashes.sha256 === hex && t.length === d.size);
  for (const c of candidates) {
    const found = await trusted.findTarget(c.path);
    if (found && found.target.hashes.sha256 === hex && found.target.length === d.size)
      return ['pass', `${d.digest} is ${c.path} in ${where} (${versions})`];
  }
  return ['fail', `${d.digest} is no current release of ${name} in ${where} (${versions})`];
}
