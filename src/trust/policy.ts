import { dirname, resolve as resolvePath } from 'node:path';
import * as z from 'zod';
import { isValidRepositoryName } from '../oci/index.ts';
import { anchoredRegExp, MAX_CONFIG_FILE_SIZE, parseDuration, readFileBounded, SignetError } from '../util/index.ts';
import { parseDistinguishedName } from './identity.ts';
import { STORE_TYPES } from './truststore.ts';

export type CheckType = 'integrity' | 'authenticity' | 'authenticTimestamp' | 'expiry' | 'revocation';
export type Action = 'enforce' | 'log' | 'skip';
export type LevelName = 'strict' | 'permissive' | 'audit' | 'skip';
export const CHECKS: CheckType[] = ['integrity', 'authenticity', 'authenticTimestamp', 'expiry', 'revocation'];

/** Verification levels as data (notary-spec §11); `override` edits a copy. */
export const LEVELS: Record<LevelName, Record<CheckType, Action>> = {
  strict: {
    integrity: 'enforce',
    authenticity: 'enforce',
    authenticTimestamp: 'enforce',
    expiry: 'enforce',
    revocation: 'enforce',
  },
  permissive: {
    integrity: 'enforce',
    authenticity: 'enforce',
    authenticTimestamp: 'log',
    expiry: 'log',
    revocation: 'log',
  },
  audit: { integrity: 'enforce', authenticity: 'log', authenticTimestamp: 'log', expiry: 'log', revocation: 'log' },
  skip: { integrity: 'skip', authenticity: 'skip', authenticTimestamp: 'skip', expiry: 'skip', revocation: 'skip' },
};

// Strict objects: a misspelled field would otherwise be dropped silently, and with it a requirement.
const statementShape = {
  name: z.string(),
  signatureVerification: z.strictObject({
    level: z.string(),
    override: z.record(z.string(), z.string()).optional(),
    verifyTimestamp: z.string().optional(),
  }),
  trustStores: z.array(z.string()).optional(),
  trustedIdentities: z.array(z.string()).optional(),
  // Signet's n-of-m extension; notation ignores both fields (it verifies any-of).
  signatureThreshold: z.number().int().min(1).max(100).optional(),
  requiredIdentities: z.array(z.string()).optional(),
  // Signet's Layer A freshness (docs/freshness.md); notation ignores both fields.
  nameBinding: z.enum(['strict', 'compat']).optional(),
  names: z.record(z.string(), z.string()).optional(),
  // Sigstore bundles (docs/trust-policy.md): keyless identities and/or public keys, under this statement's scope.
  sigstore: z
    .strictObject({
      identities: z
        .array(
          z.strictObject({
            subject: z.string().optional(),
            subjectRegExp: z.string().optional(),
            issuer: z.string().optional(),
            issuerRegExp: z.string().optional(),
          })
        )
        .optional(),
      trustedRoot: z.string().optional(),
      trustedRootDigest: z.string().optional(),
      keys: z.array(z.string()).optional(),
      repository: z.string().optional(),
    })
    .optional(),
  // Signet's Layer B freshness (docs/freshness.md): the TUF repository and its pinned first root.
  freshness: z
    .strictObject({
      tuf: z.string(),
      root: z.string(),
      offlineGrace: z.string().optional(),
      trustStore: z.boolean().optional(),
    })
    .optional(),
};
const ociSchema = z.strictObject({
  version: z.string(),
  trustPolicies: z.array(z.strictObject({ ...statementShape, registryScopes: z.array(z.string()) })),
});
const blobSchema = z.strictObject({
  version: z.string(),
  trustPolicies: z.array(z.strictObject({ ...statementShape, globalPolicy: z.boolean().optional() })),
});

export interface TrustPolicyStatement {
  name: string;
  registryScopes?: string[];
  globalPolicy?: boolean;
  level: LevelName;
  /** The level's table with the overrides applied. */
  actions: Record<CheckType, Action>;
  verifyTimestamp: 'always' | 'afterCertExpiry';
  trustStores: Array<{ type: 'ca' | 'signingAuthority' | 'tsa'; name: string }>;
  /** `*` or parsed x509.subject identities (unknown prefixes are kept out). */
  trustedIdentities: Array<'*' | Map<string, string>>;
  /** The identities as written (what a verification plugin is given). */
  rawTrustedIdentities: string[];
  /** At least this many valid signatures by distinct signing keys (default 1). */
  signatureThreshold?: number;
  /** Identities that must each have a valid signature. */
  requiredIdentities?: Array<{ raw: string; dn: Map<string, string> }>;
  /** Layer A: `strict` refuses a signature without a matching name binding; `compat` logs it. Absent: not checked. */
  nameBinding?: 'strict' | 'compat';
  /** Location glob (`registry/repo/*`, `oci:/path/*`) → logical name, in the order written. */
  names?: Array<{ location: string; name: string }>;
  /**
   * Sigstore bundles this statement requires (besides Notary signatures when it names trust
   * stores): signed by one of `keys` (PEM files) or keyless by one of `identities` under
   * `trustedRoot` (a trusted_root.json, its sha256 pinned by `trustedRootDigest` when given; with
   * `trustedRootDigest` alone, the root `signet copy --trusted-root` carried beside the artifact,
   * used only when it has that digest). Relative paths are resolved against the policy file's directory.
   */
  sigstore?: TrustPolicySigstore;
  /** Layer B: the TUF repository (a reference with a tag) and the `sha256:` of its first root. */
  /**
   * Layer B: the TUF repository and its pinned first root; `offlineGrace` (a duration such as
   * `7d`) how long past their expiry timestamp, snapshot and targets are accepted when verifying
   * `--offline`; `trustStore` (Layer C) uses only trust-store certificates that are current TUF targets.
   */
  freshness?: { tuf: string; root: string; offlineGrace?: string; trustStore?: boolean };
}

export interface TrustPolicySigstore {
  identities: Array<{ subject?: string; subjectRegExp?: string; issuer?: string; issuerRegExp?: string }>;
  keys: string[];
  trustedRoot?: string;
  trustedRootDigest?: string;
  /**
   * Where the bundles live when not beside the image (cosign's COSIGN_REPOSITORY): a repository
   * `registry/path` whose referrers of the artifact's digest are read as well.
   */
  repository?: string;
}

export interface TrustPolicyDocument {
  kind: 'oci' | 'blob';
  version: '1.0';
  statements: TrustPolicyStatement[];
}

// A policy that does not validate can verify nothing: reported as a verification failure (exit 1).
function invalid(message: string): never {
  throw new SignetError('POLICY_INVALID', `trust policy: ${message}`);
}

const DOMAIN_RE =
  /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]+)?$/;

/** Signet's layout scopes: `oci:<path glob>` (`*` within one path segment, `**` across segments). */
export const LAYOUT_SCOPE_PREFIX = 'oci:';

function globToRegExp(glob: string, capture = false): RegExp {
  let re = '';
  const group = (x: string): string => (capture ? `(${x})` : x);
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i]!;
    if (ch === '*' && glob[i + 1] === '*') {
      re += group('.*');
      i++;
    } else if (ch === '*') re += group('[^/]*');
    else if (ch === '?') re += '[^/]';
    else re += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** `names`: each location a glob (`*` within a segment, `**` across), each name a repository path; a `*` in the name takes what the location's single wildcard matched. */
function validateNames(names: Record<string, string>, statement: string): Array<{ location: string; name: string }> {
  return Object.entries(names).map(([location, logical]) => {
    const wildcards = (location.match(/\*+/g) ?? []).length;
    if (!location || location === LAYOUT_SCOPE_PREFIX) invalid(`statement "${statement}": names: an empty location`);
    if (logical.includes('*') && (wildcards !== 1 || (logical.match(/\*/g) ?? []).length !== 1))
      invalid(
        `statement "${statement}": names: "${logical}" may use "*" only once, and only when its location "${location}" has exactly one wildcard`
      );
    if (!isValidRepositoryName(logical.replace('*', 'x')))
      invalid(`statement "${statement}": names: "${logical}" is not a repository path (e.g. acme/app or acme/*)`);
    return { location, name: logical };
  });
}

/**
 * The logical name a location has under a statement's `names` (first matching entry, in the order
 * written), or undefined when no entry matches. Locations are `registry/repository` or
 * `oci:<path>`; a `*` in the name is replaced by what the location's wildcard matched.
 */
export function mappedName(st: TrustPolicyStatement, locations: string[]): string | undefined {
  for (const { location, name } of st.names ?? []) {
    const re = globToRegExp(location, true);
    for (const l of locations) {
      const m = re.exec(l);
      if (!m) continue;
      const captured = m[1] ?? '';
      if (name.includes('*')) {
        const out = name.replace('*', captured);
        return isValidRepositoryName(out) ? out : undefined;
      }
      return name;
    }
  }
  return undefined;
}

function validateScope(scope: string, statement: string): void {
  if (scope === '*') return;
  if (scope.startsWith(LAYOUT_SCOPE_PREFIX)) {
    if (scope.length === LAYOUT_SCOPE_PREFIX.length)
      invalid(`statement "${statement}": layout scope "${scope}" names no path`);
    return;
  }
  if (scope.includes('*'))
    invalid(
      `statement "${statement}": registry scope "${scope}" contains a wildcard; only "*" alone is allowed (no prefix or namespace wildcards)`
    );
  const slash = scope.indexOf('/');
  if (slash <= 0 || !DOMAIN_RE.test(scope.slice(0, slash)) || !isValidRepositoryName(scope.slice(slash + 1))) {
    invalid(
      `statement "${statement}": registry scope "${scope}" is not of the form domain[:port]/repository (references are not expanded: write docker.io/library/alpine, not alpine)`
    );
  }
}

function validateIdentities(list: string[], statement: string): Array<'*' | Map<string, string>> {
  if (list.includes('*')) {
    if (list.length > 1) invalid(`statement "${statement}": the wildcard "*" trusted identity must be the only one`);
    return ['*'];
  }
  const out: Map<string, string>[] = [];
  for (const id of list) {
    const colon = id.indexOf(':');
    if (colon <= 0)
      invalid(
        `statement "${statement}": trusted identity "${id}" must be "*" or "<prefix>:<value>" (e.g. x509.subject: C=US, ST=WA, O=Acme)`
      );
    const prefix = id.slice(0, colon).trim();
    const value = id.slice(colon + 1).trim();
    if (prefix !== 'x509.subject') continue; // tolerated, ignored at match time (as the reference does)
    let dn: Map<string, string>;
    try {
      dn = parseDistinguishedName(value);
    } catch (err) {
      invalid(
        `statement "${statement}": trusted identity "${id}" is not a valid distinguished name: ${(err as Error).message}`
      );
    }
    for (const required of ['C', 'ST', 'O']) {
      if (!dn.has(required))
        invalid(`statement "${statement}": trusted identity "${id}" must contain C, ST and O (missing ${required})`);
    }
    out.push(dn);
  }
  // Overlapping identities (one a subset of another) make the policy ambiguous.
  for (let i = 0; i < out.length; i++) {
    for (let j = 0; j < out.length; j++) {
      if (i === j) continue;
      const a = out[i]!;
      const b = out[j]!;
      if ([...a].every(([k, v]) => b.get(k) === v))
        invalid(`statement "${statement}": trusted identities overlap (one is a subset of another)`);
    }
  }
  return out;
}

function parseStatement(
  raw: z.infer<typeof ociSchema>['trustPolicies'][number] | z.infer<typeof blobSchema>['trustPolicies'][number],
  names: Set<string>
): TrustPolicyStatement {
  const name = raw.name;
  if (!name) invalid('a statement has an empty name');
  if (names.has(name)) invalid(`statement name "${name}" is used more than once`);
  names.add(name);
  const sv = raw.signatureVerification;
  if (!sv.level) invalid(`statement "${name}": signatureVerification.level is required`);
  if (!(sv.level in LEVELS))
    invalid(`statement "${name}": unknown verification level "${sv.level}" (strict, permissive, audit or skip)`);
  const level = sv.level as LevelName;
  const actions = { ...LEVELS[level] };
  const override = sv.override ?? {};
  if (level === 'skip' && Object.keys(override).length)
    invalid(`statement "${name}": a "skip" level cannot have overrides`);
  for (const [check, action] of Object.entries(override)) {
    if (!CHECKS.includes(check as CheckType))
      invalid(`statement "${name}": unknown validation type "${check}" in override (${CHECKS.join(', ')})`);
    if (!['enforce', 'log', 'skip'].includes(action))
      invalid(`statement "${name}": unknown action "${action}" for ${check} (enforce, log or skip)`);
    if (check === 'integrity') invalid(`statement "${name}": the integrity check cannot be overridden`);
    if (action === 'skip' && check !== 'revocation')
      invalid(`statement "${name}": ${check} cannot be skipped; only revocation may be set to "skip"`);
    actions[check as CheckType] = action as Action;
  }
  const vt = sv.verifyTimestamp ?? '';
  if (!['', 'always', 'afterCertExpiry'].includes(vt))
    invalid(`statement "${name}": verifyTimestamp must be "always" or "afterCertExpiry", not "${vt}"`);
  const stores = raw.trustStores ?? [];
  const identities = raw.trustedIdentities ?? [];
  if (level === 'skip') {
    if (stores.length || identities.length)
      invalid(`statement "${name}": a "skip" statement must not have trustStores or trustedIdentities`);
  } else if (stores.length || identities.length || !raw.sigstore) {
    // A statement with only a `sigstore` block requires Sigstore bundles alone.
    if (!stores.length) invalid(`statement "${name}": trustStores must not be empty`);
    if (!identities.length)
      invalid(`statement "${name}": trustedIdentities must not be empty (use "*" to trust any signer of the stores)`);
  }
  const trustStores = stores.map((s) => {
    const m = /^([^:]+):(.+)$/.exec(s);
    if (!m || !STORE_TYPES.includes(m[1] as never))
      invalid(`statement "${name}": trust store "${s}" must be <ca|signingAuthority|tsa>:<name>`);
    if (!/^[a-zA-Z0-9_.-]+$/.test(m[2]!))
      invalid(`statement "${name}": trust store name "${m[2]}" must match [a-zA-Z0-9_.-]+`);
    return { type: m[1] as 'ca' | 'signingAuthority' | 'tsa', name: m[2]! };
  });
  const st: TrustPolicyStatement = {
    name,
    level,
    actions,
    verifyTimestamp: vt === 'afterCertExpiry' ? 'afterCertExpiry' : 'always',
    trustStores,
    trustedIdentities: validateIdentities(identities, name),
    rawTrustedIdentities: identities,
  };
  if (raw.signatureThreshold !== undefined) {
    if (level === 'skip') invalid(`statement "${name}": a "skip" statement cannot have a signatureThreshold`);
    st.signatureThreshold = raw.signatureThreshold;
  }
  if (raw.requiredIdentities?.length) {
    if (level === 'skip') invalid(`statement "${name}": a "skip" statement cannot have requiredIdentities`);
    const foreign = raw.requiredIdentities.find((r) => !/^x509\.subject\s*:/.test(r.trim()));
    if (foreign !== undefined)
      invalid(`statement "${name}": required identity "${foreign}" must be "x509.subject: <DN>"`);
    const dns = validateIdentities(raw.requiredIdentities, name);
    if (dns.includes('*')) invalid(`statement "${name}": requiredIdentities name signers; "*" is not one`);
    st.requiredIdentities = raw.requiredIdentities.map((r, i) => ({ raw: r, dn: dns[i] as Map<string, string> }));
  }
  if (raw.nameBinding !== undefined || raw.names !== undefined) {
    if (level === 'skip') invalid(`statement "${name}": a "skip" statement cannot have nameBinding or names`);
    if (raw.nameBinding) st.nameBinding = raw.nameBinding;
    if (raw.names) st.names = validateNames(raw.names, name);
  }
  if (raw.freshness) {
    if (level === 'skip') invalid(`statement "${name}": a "skip" statement cannot have freshness`);
    if (!/^sha256:[0-9a-f]{64}$/.test(raw.freshness.root))
      invalid(`statement "${name}": freshness.root must be the pinned first root, sha256:<64 hex digits>`);
    if (!raw.freshness.tuf.trim()) invalid(`statement "${name}": freshness.tuf names no TUF repository`);
    st.freshness = { tuf: raw.freshness.tuf, root: raw.freshness.root };
    if (raw.freshness.offlineGrace !== undefined) {
      try {
        parseDuration(raw.freshness.offlineGrace);
      } catch {
        invalid(
          `statement "${name}": freshness.offlineGrace must be a duration such as "7d", not ${JSON.stringify(raw.freshness.offlineGrace)}`
        );
      }
      st.freshness.offlineGrace = raw.freshness.offlineGrace;
    }
    if (raw.freshness.trustStore) st.freshness.trustStore = true;
  }
  if (raw.sigstore) {
    if (level === 'skip') invalid(`statement "${name}": a "skip" statement cannot have sigstore`);
    st.sigstore = validateSigstore(raw.sigstore, name);
  }
  return st;
}

/** A `sigstore` block: each identity one subject form and one issuer form (RE2, anchored), keys or identities. */
function validateSigstore(
  raw: NonNullable<z.infer<typeof ociSchema>['trustPolicies'][number]['sigstore']>,
  statement: string
): TrustPolicySigstore {
  const at = `statement "${statement}": sigstore`;
  const identities = raw.identities ?? [];
  identities.forEach((id, i) => {
    for (const what of ['subject', 'issuer'] as const) {
      const exact = id[what];
      const re = id[`${what}RegExp`];
      if ((exact === undefined) === (re === undefined))
        invalid(`${at}.identities[${i}]: give exactly one of ${what} and ${what}RegExp`);
      if (exact === '') invalid(`${at}.identities[${i}]: ${what} is empty`);
      if (re !== undefined) {
        try {
          anchoredRegExp(re);
        } catch (err) {
          invalid(
            `${at}.identities[${i}]: ${what}RegExp ${JSON.stringify(re)} is not valid RE2: ${(err as Error).message}`
          );
        }
      }
    }
  });
  const keys = raw.keys ?? [];
  if (!identities.length && !keys.length) invalid(`${at} names neither identities nor keys`);
  if (raw.trustedRootDigest !== undefined) {
    if (!/^sha256:[0-9a-f]{64}$/.test(raw.trustedRootDigest))
      invalid(`${at}.trustedRootDigest must be sha256:<64 hex digits>`);
    // without `trustedRoot`: the root carried beside the artifact (signet copy --trusted-root), by this digest
  }
  if (raw.repository !== undefined) {
    const slash = raw.repository.indexOf('/');
    const host = raw.repository.slice(0, Math.max(slash, 0));
    if (
      slash <= 0 ||
      !(/[.:]/.test(host) || host === 'localhost') ||
      !isValidRepositoryName(raw.repository.slice(slash + 1)) ||
      /[:@]/.test(raw.repository.slice(slash))
    )
      invalid(
        `${at}.repository must be registry/repository (a registry host such as reg.example.com or host:port; no tag or digest), not ${JSON.stringify(raw.repository)}`
      );
  }
  return {
    identities,
    keys,
    ...(raw.trustedRoot !== undefined ? { trustedRoot: raw.trustedRoot } : {}),
    ...(raw.trustedRootDigest !== undefined ? { trustedRootDigest: raw.trustedRootDigest } : {}),
    ...(raw.repository !== undefined ? { repository: raw.repository } : {}),
  };
}

function parseJson(input: unknown): unknown {
  if (typeof input !== 'string' && !(input instanceof Uint8Array)) return input;
  try {
    return JSON.parse(Buffer.from(input as Uint8Array | string).toString('utf8'));
  } catch (err) {
    invalid(`malformed trust policy: ${(err as Error).message}`);
  }
}

function shapeError(err: z.ZodError): never {
  invalid(
    err.issues
      .slice(0, 3)
      .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
      .join('; ')
  );
}

/** Loads and validates an OCI trust policy document (every rule of notary-spec §10.3). */
export function loadTrustPolicy(input: unknown): TrustPolicyDocument {
  const r = ociSchema.safeParse(parseJson(input));
  if (!r.success) shapeError(r.error);
  const doc = r.data;
  if (!doc.version) invalid('version is required');
  if (doc.version !== '1.0') invalid(`unsupported version "${doc.version}" (want "1.0")`);
  if (!doc.trustPolicies.length) invalid('trustPolicies must have at least one statement');
  const names = new Set<string>();
  const scopes = new Map<string, string>();
  const statements = doc.trustPolicies.map((raw) => {
    const st = parseStatement(raw, names);
    if (!raw.registryScopes.length) invalid(`statement "${st.name}": registryScopes must not be empty`);
    if (raw.registryScopes.includes('*') && raw.registryScopes.length > 1)
      invalid(`statement "${st.name}": the wildcard scope "*" must be the only scope of its statement`);
    for (const scope of raw.registryScopes) {
      validateScope(scope, st.name);
      const other = scopes.get(scope);
      if (other)
        invalid(
          `registry scope "${scope}" appears in statements "${other}" and "${st.name}"; a scope may appear in one statement only`
        );
      scopes.set(scope, st.name);
    }
    st.registryScopes = raw.registryScopes;
    return st;
  });
  return { kind: 'oci', version: '1.0', statements };
}

/** Loads and validates a blob trust policy document (at most one globalPolicy). */
export function loadBlobTrustPolicy(input: unknown): TrustPolicyDocument {
  const r = blobSchema.safeParse(parseJson(input));
  if (!r.success) shapeError(r.error);
  const doc = r.data;
  if (doc.version !== '1.0') invalid(`unsupported version "${doc.version}" (want "1.0")`);
  if (!doc.trustPolicies.length) invalid('trustPolicies must have at least one statement');
  const names = new Set<string>();
  const statements = doc.trustPolicies.map((raw) => {
    const st = parseStatement(raw, names);
    if (raw.globalPolicy) {
      if (st.level === 'skip') invalid(`statement "${st.name}": a global blob policy cannot have the "skip" level`);
      st.globalPolicy = true;
    }
    return st;
  });
  if (statements.filter((s) => s.globalPolicy).length > 1) invalid('at most one statement may be the globalPolicy');
  return { kind: 'blob', version: '1.0', statements };
}

export async function loadTrustPolicyFile(path: string, kind: 'oci' | 'blob' = 'oci'): Promise<TrustPolicyDocument> {
  let text: string;
  try {
    text = (await readFileBounded(path, MAX_CONFIG_FILE_SIZE)).toString('utf8');
  } catch (err) {
    throw new SignetError(
      'POLICY_UNREADABLE',
      `cannot read trust policy ${path}: ${(err as Error).message} (signet policy init or signet policy import)`
    );
  }
  const doc = kind === 'oci' ? loadTrustPolicy(text) : loadBlobTrustPolicy(text);
  // The files a `sigstore` block names are relative to the policy file.
  for (const st of doc.statements) {
    if (!st.sigstore) continue;
    const at = (f: string): string => resolvePath(dirname(path), f);
    st.sigstore.keys = st.sigstore.keys.map(at);
    if (st.sigstore.trustedRoot !== undefined) st.sigstore.trustedRoot = at(st.sigstore.trustedRoot);
  }
  return doc;
}

/** What a statement's scopes are matched against: a registry repository, or a layout's path(s). */
export type PolicySubject = { registryScope: string } | { layoutPaths: string[] };

/**
 * Selects the statement for an artifact (notary-spec §10.4): the exact repository scope (for a
 * layout, the first `oci:<glob>` scope matching its path), else the `*` statement, else no
 * applicable policy — a failure, never a pass.
 */
export function selectStatement(doc: TrustPolicyDocument, subject: PolicySubject): TrustPolicyStatement {
  let st: TrustPolicyStatement | undefined;
  if ('registryScope' in subject) st = doc.statements.find((s) => s.registryScopes?.includes(subject.registryScope));
  else {
    const matches = (scope: string): boolean =>
      scope.startsWith(LAYOUT_SCOPE_PREFIX) &&
      subject.layoutPaths.some((p) => globToRegExp(scope.slice(LAYOUT_SCOPE_PREFIX.length)).test(p));
    st = doc.statements.find((s) => s.registryScopes?.some(matches));
  }
  st ??= doc.statements.find((s) => s.registryScopes?.includes('*'));
  if (!st) {
    const what =
      'registryScope' in subject
        ? `"${subject.registryScope}"`
        : `the layout ${subject.layoutPaths[0]} (no oci: scope matches it; or verify it as a repository with --scope)`;
    throw new SignetError(
      'NO_APPLICABLE_POLICY',
      `${what} has no applicable trust policy statement (no matching scope and no "*")`
    );
  }
  return st;
}

/** The statement for `registry/repository@digest` (or a layout path `…@digest`). */
export function selectPolicy(doc: TrustPolicyDocument, reference: string): TrustPolicyStatement {
  const at = reference.lastIndexOf('@');
  if (at < 0)
    throw new SignetError('REFERENCE_INVALID', `artifact reference ${reference} must name a digest (…@sha256:…)`);
  const scope = reference.slice(0, at);
  const registry = doc.statements.some((s) => s.registryScopes?.includes(scope));
  return selectStatement(
    doc,
    registry || !/^[./]|^https?:/.test(scope) ? { registryScope: scope } : { layoutPaths: [scope] }
  );
}

/** The blob statement by name, else the global policy. */
export function selectBlobPolicy(doc: TrustPolicyDocument, name?: string): TrustPolicyStatement {
  const st = name ? doc.statements.find((s) => s.name === name) : doc.statements.find((s) => s.globalPolicy);
  if (!st)
    throw new SignetError(
      'NO_APPLICABLE_POLICY',
      name
        ? `no blob trust policy statement named "${name}"`
        : 'no blob trust policy statement given and none is the globalPolicy'
    );
  return st;
}
