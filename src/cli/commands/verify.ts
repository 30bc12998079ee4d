import type { Command } from 'commander';
import { SignetError, verifyArtifacts, formatReport, type RequirementSources } from '../../index.ts';
import { parseOutputFormat, printJson } from '../output.ts';
import { collect, keyValues, registryFlags, registryOpenOptions, type RegistryFlags } from './args.ts';

interface VerifyFlags extends RegistryFlags, SigstoreFlags {
  userMetadata: string[];
  policy?: string;
  trustStore?: string;
  maxSignatures: string;
  output: string;
  index?: string;
  acceptIndexSignature?: boolean;
  offline?: boolean;
  revocationBundle?: string;
  revocationCache: boolean;
  cosignKey: string[];
  containersPolicy?: string;
  registriesD?: string;
  layoutKey: string[];
  scope?: string;
  name?: string;
  allowDowngrade?: boolean;
  concurrency: string;
}

/** The Sigstore flags of `verify` and `blob verify`, in cosign's words. */
export interface SigstoreFlags {
  key: string[];
  certificateIdentity?: string;
  certificateIdentityRegexp?: string;
  certificateOidcIssuer?: string;
  certificateOidcIssuerRegexp?: string;
  trustedRoot?: string;
  /** `verify` only: DSSE attestations of this in-toto predicate type (cosign's `verify-attestation --type`). */
  attestationType?: string;
  /** No network: the public-good trusted root from the cache only. */
  offline?: boolean;
  certificateGithubWorkflowTrigger?: string;
  certificateGithubWorkflowSha?: string;
  certificateGithubWorkflowName?: string;
  certificateGithubWorkflowRepository?: string;
  certificateGithubWorkflowRef?: string;
}

/** cosign's `--certificate-github-workflow-*` flags: Fulcio's GitHub Actions extensions, exactly. */
export function githubWorkflowOptions(cmd: Command, prefix = ''): Command {
  for (const f of ['trigger', 'sha', 'name', 'repository', 'ref'])
    cmd.option(
      `--certificate-github-workflow-${f} <value>`,
      `${prefix}the keyless certificate's GitHub workflow ${f} (Fulcio extension), exactly`
    );
  return cmd;
}

function githubWorkflow(opts: SigstoreFlags): { githubWorkflow?: Record<string, string> } {
  const w = Object.fromEntries(
    (
      [
        ['trigger', opts.certificateGithubWorkflowTrigger],
        ['sha', opts.certificateGithubWorkflowSha],
        ['name', opts.certificateGithubWorkflowName],
        ['repository', opts.certificateGithubWorkflowRepository],
        ['ref', opts.certificateGithubWorkflowRef],
      ] as const
    ).filter(([, v]) => v !== undefined)
  ) as Record<string, string>;
  return Object.keys(w).length ? { githubWorkflow: w } : {};
}

/** `--key` and the keyless identity flags, in cosign's words: one identity needs a subject and an issuer form. */
export function sigstoreSources(opts: SigstoreFlags): { sigstore?: RequirementSources['sigstore'] } {
  const subject = [opts.certificateIdentity, opts.certificateIdentityRegexp].filter((x) => x !== undefined);
  const issuer = [opts.certificateOidcIssuer, opts.certificateOidcIssuerRegexp].filter((x) => x !== undefined);
  if (subject.length > 1 || issuer.length > 1)
    throw new SignetError(
      'USAGE',
      'give --certificate-identity or its -regexp form, and the issuer or its -regexp form, not both'
    );
  if (subject.length !== issuer.length)
    throw new SignetError(
      'USAGE',
      'a keyless identity needs both --certificate-identity[-regexp] and --certificate-oidc-issuer[-regexp]'
    );
  if (githubWorkflow(opts).githubWorkflow && !subject.length)
    throw new SignetError('USAGE', '--certificate-github-workflow-* go with --certificate-identity[-regexp]');
  if (!subject.length && !opts.key.length) {
    if (opts.trustedRoot) throw new SignetError('USAGE', '--trusted-root applies to --key or --certificate-identity');
    if (opts.attestationType !== undefined)
      throw new SignetError('USAGE', '--attestation-type applies to --key or --certificate-identity');
    return {};
  }
  const identities = subject.length
    ? [
        {
          ...(opts.certificateIdentity !== undefined
            ? { subject: opts.certificateIdentity }
            : { subjectRegExp: opts.certificateIdentityRegexp! }),
          ...(opts.certificateOidcIssuer !== undefined
            ? { issuer: opts.certificateOidcIssuer }
            : { issuerRegExp: opts.certificateOidcIssuerRegexp! }),
          ...githubWorkflow(opts),
        },
      ]
    : [];
  return {
    sigstore: {
      keys: opts.key,
      identities,
      ...(opts.trustedRoot ? { trustedRoot: opts.trustedRoot } : {}),
      ...(opts.attestationType !== undefined ? { attestationType: opts.attestationType } : {}),
      ...(opts.offline ? { offline: true } : {}),
    },
  };
}

/**
 * `--key` as `sign` takes it: a Signet key name (its public key from the key store) or a PEM public
 * key file. A value with a path separator is a file; a plain name is looked up in the key store
 * first, then read as a file.
 */
export async function withKeyNames(sources: {
  sigstore?: RequirementSources['sigstore'];
}): Promise<{ sigstore?: RequirementSources['sigstore'] }> {
  const keys = sources.sigstore?.keys;
  if (!sources.sigstore || !keys?.length) return sources;
  const { openKeyStore } = await import('../../index.ts');
  const store = await openKeyStore();
  const resolved = await Promise.all(
    keys.map(async (k) => {
      if (typeof k !== 'string' || /[/\\]/.test(k)) return k;
      try {
        return Buffer.from(await store.publicKey(k));
      } catch (err) {
        if (err instanceof SignetError && err.code === 'KEY_NOT_FOUND') return k;
        throw err;
      }
    })
  );
  return { sigstore: { ...sources.sigstore, keys: resolved } };
}

export function registerVerify(program: Command): void {
  const verifyCmd = program
    .command('verify')
    .description('Verify artifacts against every configured requirement; exit 0 only if every reference verifies.')
    .argument('<refs...>', 'artifact references (registry or oci: layout)')
    .option(
      '-m, --user-metadata <k=v>',
      'metadata every accepted Notary signature must carry (repeatable)',
      collect,
      []
    )
    .option('--policy <file>', 'Notary trust policy file (default $SIGNET_HOME/trustpolicy.json when present)')
    .option('--trust-store <dir>', 'trust store directory (default $SIGNET_HOME/truststore)')
    .option(
      '--containers-policy <file>',
      'containers policy.json (simple signing, sigstoreSigned); default $SIGNET_HOME/policy.json when present'
    )
    .option('--registries-d <dir>', 'containers registries.d directory (lookaside locations of simple signatures)')
    .option(
      '--cosign-key <file>',
      'also require a cosign signature by this PEM public key (repeatable: any of them)',
      collect,
      []
    )
    .option(
      '--key <file>',
      'also require a Sigstore bundle signed by this PEM public key or Signet key name (repeatable: any of them), as cosign verify --key',
      collect,
      []
    )
    .option('--certificate-identity <id>', 'also require a keyless Sigstore bundle for exactly this identity')
    .option(
      '--certificate-identity-regexp <re>',
      'the keyless identity as a regular expression (RE2, matched against the whole value)'
    )
    .option('--certificate-oidc-issuer <url>', 'the OIDC issuer of the keyless identity, exactly')
    .option('--certificate-oidc-issuer-regexp <re>', 'the OIDC issuer as a regular expression (RE2, whole value)')
    .option(
      '--trusted-root <file>',
      'Sigstore trusted_root.json (offline and private instances); default: the public-good root through TUF'
    )
    .option(
      '--attestation-type <uri>',
      'only DSSE attestations whose in-toto predicate type is this URI count for the Sigstore requirement (as cosign verify-attestation --type)'
    )
    .option(
      '--layout-key <file>',
      'also require a statically signed layout entry by this OpenPGP key (repeatable: any of them)',
      collect,
      []
    )
    .option(
      '--scope <registry/repository>',
      'verify an OCI layout as this repository (which policy statement applies, which name is bound)'
    )
    .option(
      '--name <name>',
      'the logical name to verify as (a statement with nameBinding; for a layout by tag, where no repository names it)'
    )
    .option(
      '--allow-downgrade',
      'accept a tag whose signed sequence is older than the one last accepted here (the state is not lowered)'
    )
    .option('--max-signatures <n>', 'signatures read at most per artifact', '50')
    .option('--concurrency <n>', 'references verified at once (one connection pool per registry)', '8')
    .option(
      '--index <ref>',
      'an image index listing the artifact: report (and with --accept-index-signature accept) its signatures when the artifact has none that verify'
    )
    .option('--accept-index-signature', 'accept an artifact covered only by a signed --index')
    .option(
      '--offline',
      "no network except the artifact's own store: revocation from the cache and --revocation-bundle only, the public-good Sigstore root from its cache (its age shown), TUF freshness with the statement's offlineGrace"
    )
    .option('--revocation-bundle <dir>', 'CRL files (DER or PEM) brought along for offline verification')
    .option('--no-revocation-cache', 'do not read or write the revocation cache ($XDG_CACHE_HOME/signet/revocation)')
    .option('-o, --output <format>', 'text or json', 'text');
  githubWorkflowOptions(verifyCmd);
  registryFlags(verifyCmd)
    .addHelpText(
      'after',
      `
Requirements: the Notary trust policy and the containers policy (named, or found in
$SIGNET_HOME), plus one for --cosign-key, one for --layout-key, and one for Sigstore bundles
(--key, or --certificate-identity[-regexp] with --certificate-oidc-issuer[-regexp] and
--trusted-root; --attestation-type URI counts only attestations of that predicate type). Each
configured requirement
must be satisfied; a "reject" anywhere rejects; nothing configured is a failure. All signatures
(Notary JWS/COSE, cosign, simple signing, signed layouts) are found in one pass over the
artifact, resolved once by digest.

Checks (docs/trust-policy.md has the catalog): integrity, authenticity, authentic-timestamp,
expiry, revocation, subject, user-metadata, certificate-identity, name-binding, threshold,
rollback, transparency-log, certificate-chain, sct, predicate-type, policy. The policy
level decides which failures are enforced (strict, permissive, audit, skip).

Exit codes: 0 verified, 1 verification failed (the failed check is named), 2 usage,
3 inconclusive (a responder or the store could not be reached). -o json prints an array with one
report per reference.

Examples:
  signet verify 127.0.0.1:5000/app:v1
  signet verify oci:./airgap.tar:v1 --scope registry.example.com/app -m build=42 -o json
  signet verify 127.0.0.1:5000/app:v1 --cosign-key cosign.pub --containers-policy policy.json
  signet verify 127.0.0.1:5000/app@sha256:<amd64> --index 127.0.0.1:5000/app:v1 --accept-index-signature`
    )
    .action(async (refs: string[], opts: VerifyFlags) => {
      const output = parseOutputFormat(opts.output, ['text', 'json']);
      const max = Number(opts.maxSignatures);
      if (!Number.isInteger(max) || max < 1)
        throw new SignetError(
          'USAGE',
          `--max-signatures takes a positive whole number, not ${JSON.stringify(opts.maxSignatures)}`
        );
      const concurrency = Number(opts.concurrency);
      if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 256)
        throw new SignetError(
          'USAGE',
          `--concurrency takes a whole number from 1 to 256, not ${JSON.stringify(opts.concurrency)}`
        );
      const reports = await verifyArtifacts(refs, {
        concurrency,
        sources: {
          ...(opts.policy ? { trustPolicy: opts.policy } : {}),
          ...(opts.trustStore ? { trustStore: opts.trustStore } : {}),
          ...(opts.containersPolicy ? { containersPolicy: opts.containersPolicy } : {}),
          ...(opts.registriesD ? { registriesD: opts.registriesD } : {}),
          cosignKeys: opts.cosignKey,
          layoutKeys: opts.layoutKey,
          ...(await withKeyNames(sigstoreSources(opts))),
        },
        userMetadata: keyValues(opts.userMetadata, '--user-metadata'),
        maxSignatures: max,
        revocationData: {
          cache: opts.revocationCache,
          offline: Boolean(opts.offline),
          ...(opts.revocationBundle ? { bundleDir: opts.revocationBundle } : {}),
        },
        ...(opts.scope ? { scope: opts.scope } : {}),
        ...(opts.name ? { name: opts.name } : {}),
        ...(opts.allowDowngrade ? { allowDowngrade: true } : {}),
        ...(opts.index ? { coveringIndex: opts.index, acceptIndexSignature: Boolean(opts.acceptIndexSignature) } : {}),
        open: registryOpenOptions(opts),
      });
      if (output === 'json') printJson(reports);
      else for (const r of reports) process.stdout.write(formatReport(r));
      const failed = reports.filter((r) => r.verdict === 'failed').length;
      const inconclusive = reports.filter((r) => r.verdict === 'inconclusive').length;
      if (failed)
        throw new SignetError('VERIFICATION_FAILED', `${failed} of ${reports.length} artifact(s) failed verification`);
      if (inconclusive)
        throw new SignetError(
          'VERIFICATION_INCONCLUSIVE',
          `${inconclusive} of ${reports.length} artifact(s) could not be verified either way`
        );
    });
}
