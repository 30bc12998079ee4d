import type { Command } from 'commander';
import type { ArtifactVerification } from '../../verify.ts';
import { SignetError } from '../../util/index.ts';
import { printJson } from '../output.ts';
import { collect, keyValues } from './args.ts';

function printReport(v: ArtifactVerification): void {
  if (v.verified) {
    const s = v.signatures.find((x) => x.verified);
    process.stdout.write(`✓ Verified ${v.reference}${v.policy ? ` (policy "${v.policy}", level ${v.level})` : ''}\n`);
    if (s) {
      process.stdout.write(`  signature ${s.digest} (${s.envelopeMediaType}) by ${s.signer ?? '?'}${s.signingTime ? `, signed ${s.signingTime}` : ''}\n`);
      for (const r of s.results) if (!r.ok && r.action === 'log') process.stdout.write(`  warning: ${r.type}: ${r.message}\n`);
    } else if (v.message) process.stdout.write(`  ${v.message}\n`);
    return;
  }
  process.stdout.write(`✗ Verification failed for ${v.reference}${v.policy ? ` (policy "${v.policy}", level ${v.level})` : ''}\n`);
  if (v.message) process.stdout.write(`  ${v.message}\n`);
  for (const s of v.signatures) {
    const failed = s.results.find((r) => !r.ok && r.action === 'enforce');
    process.stdout.write(`  signature ${s.digest}: ${failed ? `${failed.type} check failed: ${failed.message}` : 'not verified'}\n`);
  }
}

async function verifyLayoutRefs(refs: string[], keyFiles: string[], output: string): Promise<void> {
  const { readFile } = await import('node:fs/promises');
  const { parseReference } = await import('../../oci/index.ts');
  const { verifyLayout } = await import('../../layout-signing.ts');
  const keys = await Promise.all(keyFiles.map((f) => readFile(f)));
  const out = [];
  for (const ref of refs) {
    const parsed = parseReference(ref);
    if (parsed.kind !== 'layout') throw new SignetError('USAGE', '--layout-key verifies OCI layouts (oci:DIR, oci:FILE.tar, oci:https://…)', { kind: 'usage' });
    const v = await verifyLayout(parsed.path, { keys, ...(parsed.tag ? { refs: [parsed.tag] } : {}) });
    out.push({ reference: ref, ...v });
    if (output === 'json') continue;
    for (const r of v.refs) process.stdout.write(`${r.verified ? '✓' : '✗'} ${r.ref} ${r.digest}${r.verified ? ` (signed ${r.timestamp} by ${r.signer})` : `: ${r.reason}`}\n`);
  }
  if (output === 'json') printJson(out);
  const failed = out.filter((v) => !v.verified);
  if (failed.length) throw new SignetError('VERIFICATION_FAILED', `${failed.length} of ${out.length} layout(s) failed verification`, { kind: 'failed' });
}

async function verifyCosignRefs(refs: string[], keyFiles: string[], output: string): Promise<void> {
  const { readFile } = await import('node:fs/promises');
  const { parseCosignPublicKey } = await import('../../signature/index.ts');
  const { verifyCosign } = await import('../../cosign.ts');
  const keys = await Promise.all(keyFiles.map(async (f) => parseCosignPublicKey(await readFile(f))));
  const out = [];
  for (const ref of refs) {
    const v = await verifyCosign(ref, keys);
    out.push(v);
    if (output === 'json') continue;
    if (v.verified) process.stdout.write(`✓ Verified ${v.reference} (cosign, ${v.signatures.filter((s) => s.verified).length} of ${v.signatures.length} signatures)\n`);
    else {
      process.stdout.write(`✗ Verification failed for ${v.reference} (cosign)\n`);
      if (!v.signatures.length) process.stdout.write('  no cosign signature is associated with it\n');
      for (const s of v.signatures) process.stdout.write(`  signature layer ${s.layer}: ${s.reason}\n`);
    }
  }
  if (output === 'json') printJson(out);
  const failed = out.filter((v) => !v.verified);
  if (failed.length) throw new SignetError('VERIFICATION_FAILED', `${failed.length} of ${out.length} artifact(s) failed cosign verification`, { kind: 'failed' });
}

async function revocationSetup(opts: { offline?: boolean; revocationBundle?: string; revocationCache: boolean }): Promise<NonNullable<import('../../trust/index.ts').VerifyOptions['revocationOptions']>> {
  const { FileRevocationCache } = await import('../../pki/index.ts');
  const out: NonNullable<import('../../trust/index.ts').VerifyOptions['revocationOptions']> = {};
  if (opts.revocationCache) out.cache = new FileRevocationCache();
  if (opts.offline) out.offline = true;
  if (opts.revocationBundle) {
    const { readdir, readFile } = await import('node:fs/promises');
    const { join } = await import('node:path');
    out.bundle = await Promise.all((await readdir(opts.revocationBundle)).map((f) => readFile(join(opts.revocationBundle!, f))));
  }
  return out;
}

export function registerVerify(program: Command): void {
  program
    .command('verify')
    .description('Verify artifacts against the trust policy; exit 0 only if every reference verifies.')
    .argument('<refs...>', 'artifact references (registry or oci: layout)')
    .option('-m, --user-metadata <k=v>', 'metadata every accepted signature must carry (repeatable)', collect, [])
    .option('--policy <file>', 'trust policy file (default $SIGNET_HOME/trustpolicy.json)')
    .option('--trust-store <dir>', 'trust store directory (default $SIGNET_HOME/truststore)')
    .option('--max-signatures <n>', 'signatures tried at most per artifact', '50')
    .option('--index <ref>', 'an image index listing the artifact: report (and with --accept-index-signature accept) its signature when the platform manifest has none')
    .option('--accept-index-signature', 'accept a platform manifest covered only by a signed --index')
    .option('--containers-policy <file>', 'also enforce a containers policy.json (simple signing, sigstoreSigned); $SIGNET_HOME/policy.json is used when present')
    .option('--registries-d <dir>', 'containers registries.d directory (lookaside locations of simple signatures)')
    .option('--layout-key <file>', 'verify a statically signed OCI layout (index.json signatures) with this OpenPGP public key (repeatable)', collect, [])
    .option('--cosign-key <file>', 'verify cosign key-based signatures with this PEM public key instead of the Notary trust policy (repeatable)', collect, [])
    .option('--offline', 'no network for revocation: use the revocation cache and --revocation-bundle only')
    .option('--revocation-bundle <dir>', 'CRL files (DER or PEM) brought along for offline verification')
    .option('--no-revocation-cache', 'do not read or write the revocation cache ($XDG_CACHE_HOME/signet/revocation)')
    .option('-o, --output <format>', 'text or json', 'text')
    .addHelpText(
      'after',
      `
Checks, in order: integrity, authenticity (chain to the trust store, trusted identity), expiry,
authentic timestamp, revocation, then that the signature is for this very artifact, and the -m
metadata. The policy level decides which failures are enforced (strict, permissive, audit, skip).

Exit codes: 0 verified, 1 verification failed (the failed check is named), 3 inconclusive
(network, I/O). JSON output (-o json) is an array with one entry per reference.

Examples:
  signet verify 127.0.0.1:5000/app:v1
  signet verify oci:./airgap/app:v1 -m build=42 -o json
  signet verify 127.0.0.1:5000/app@sha256:<amd64> --index 127.0.0.1:5000/app:v1 --accept-index-signature`,
    )
    .action(async (refs: string[], opts: { userMetadata: string[]; policy?: string; trustStore?: string; maxSignatures: string; output: string; index?: string; acceptIndexSignature?: boolean; offline?: boolean; revocationBundle?: string; revocationCache: boolean; cosignKey: string[]; containersPolicy?: string; registriesD?: string; layoutKey: string[] }) => {
      if (opts.layoutKey.length) return verifyLayoutRefs(refs, opts.layoutKey, opts.output);
      if (opts.cosignKey.length) return verifyCosignRefs(refs, opts.cosignKey, opts.output);
      const revocationOptions = await revocationSetup(opts);
      const userMetadata = keyValues(opts.userMetadata, '--user-metadata');
      const { verify, defaultTrustPolicyPath } = await import('../../verify.ts');
      const { existsSync } = await import('node:fs');
      const { join } = await import('node:path');
      const { signetHome } = await import('../../util/index.ts');
      // Every policy configured for the reference is enforced: the Notary trust policy, and the
      // containers policy.json when given or present in $SIGNET_HOME. None at all is a failure.
      const notaryConfigured = Boolean(opts.policy) || existsSync(defaultTrustPolicyPath());
      const homeContainers = join(signetHome(), 'policy.json');
      const containersPolicy = opts.containersPolicy ?? (existsSync(homeContainers) ? homeContainers : undefined);
      if (!notaryConfigured && !containersPolicy) {
        throw new SignetError('POLICY_MISSING', `no policy is configured: signet policy init|import (Notary trust policy), or --containers-policy FILE`, { kind: 'failed' });
      }
      const out: Array<ArtifactVerification & { containers?: unknown }> = [];
      for (const ref of refs) {
        let v: ArtifactVerification & { containers?: unknown } | undefined;
        if (notaryConfigured) {
          v = await verify(ref, { userMetadata, maxSignatures: Number(opts.maxSignatures), revocationOptions, ...(opts.policy ? { trustPolicy: opts.policy } : {}), ...(opts.trustStore ? { trustStore: opts.trustStore } : {}), ...(opts.index ? { coveringIndex: opts.index, acceptIndexSignature: Boolean(opts.acceptIndexSignature) } : {}) });
          if (opts.output !== 'json') printReport(v);
        }
        if (containersPolicy && !ref.startsWith('oci:')) {
          const { verifyContainersPolicy } = await import('../../containers.ts');
          const c = await verifyContainersPolicy(ref, { policy: containersPolicy, ...(opts.registriesD ? { registriesD: opts.registriesD } : {}) });
          if (opts.output !== 'json') {
            process.stdout.write(`${c.accepted ? '✓ Accepted' : '✗ Rejected'} ${ref} (${c.digest}) by containers policy scope ${c.scope}\n`);
            for (const x of c.results) process.stdout.write(`  ${x.requirement}: ${x.ok ? 'ok' : 'failed'}: ${x.message}\n`);
          }
          v = v ? { ...v, verified: v.verified && c.accepted, containers: c } : { reference: ref, subject: { mediaType: '', digest: c.digest, size: 0 }, verified: c.accepted, signatures: [], containers: c };
        }
        if (v) out.push(v);
      }
      if (opts.output === 'json') printJson(out);
      const failed = out.filter((v) => !v.verified);
      if (failed.length) throw new SignetError('VERIFICATION_FAILED', `${failed.length} of ${out.length} artifact(s) failed verification`, { kind: 'failed' });
    });
}
