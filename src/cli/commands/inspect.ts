import type { Command } from 'commander';
import type { BundleSummary } from '../../index.ts';
import { SignetError } from '../../index.ts';
import { parseOutputFormat, printJson } from '../output.ts';
import { githubWorkflowOptions, sigstoreSources, withKeyNames, type SigstoreFlags } from './verify.ts';
import { keylessOptions, sigstoreKeyless, type SigstoreSignFlags } from './sign.ts';
import {
  collect,
  keyValues,
  parseDuration,
  readSecret,
  registryFlags,
  registryOpenOptions,
  type RegistryFlags,
} from './args.ts';

export function registerInspect(program: Command): void {
  const lsCmd = program
    .command('ls')
    .alias('list')
    .description('List the signatures of an artifact (decoded, not verified).')
    .argument('<ref>', 'artifact reference')
    .option('-o, --output <format>', 'text or json', 'text');
  registryFlags(lsCmd).action(async (ref: string, opts: { output: string } & RegistryFlags) => {
    const format = parseOutputFormat(opts.output, ['text', 'json']);
    const { inspect } = await import('../../index.ts');
    const r = await inspect(ref, { open: registryOpenOptions(opts) });
    if (format === 'json') return printJson(r);
    process.stdout.write(`${r.reference}\n`);
    if (!r.signatures.length && !r.otherSignatures.length) process.stdout.write('└── (no signatures)\n');
    for (const o of r.otherSignatures)
      process.stdout.write(
        `├── ${o.family} ${o.location} ${o.error ? `(unreadable: ${o.error})` : o.bundle ? `${o.bundle.content} by ${o.bundle.signer}` : `for ${o.dockerReference}`}\n`
      );
    r.signatures.forEach((s, i) => {
      const last = i === r.signatures.length - 1;
      process.stdout.write(
        `${last ? '└──' : '├──'} ${s.digest} ${s.envelopeMediaType ?? ''} ${s.error ? `(unreadable: ${s.error})` : `${s.certificateChain?.[0]?.subject ?? ''}, ${s.signingTime ?? ''}`}\n`
      );
    });
  });
  const inspectCmd = program
    .command('inspect')
    .description(
      'Show what the signatures of an artifact say: signer chain, times, scheme, metadata (decoded, not verified).'
    )
    .argument('<ref>', 'artifact reference')
    .option('-o, --output <format>', 'tree or json', 'tree');
  registryFlags(inspectCmd)
    .addHelpText(
      'after',
      '\nNothing shown here is trusted: `signet verify` decides that.\n\nExample:\n  signet inspect 127.0.0.1:5000/app:v1 -o json'
    )
    .action(async (ref: string, opts: { output: string } & RegistryFlags) => {
      const format = parseOutputFormat(opts.output, ['tree', 'json']);
      const { inspect } = await import('../../index.ts');
      const r = await inspect(ref, { open: registryOpenOptions(opts) });
      if (format === 'json') return printJson(r);
      process.stdout.write(`${r.reference}\n└── application/vnd.cncf.notary.signature\n`);
      for (const o of r.otherSignatures)
        process.stdout.write(
          `└── ${o.family} signature at ${o.location}: ${o.error ? `unreadable: ${o.error}` : o.bundle ? bundleLine(o.bundle) : `claims ${o.dockerReference} → ${o.signedDigest}`} (not verified)\n`
        );
      r.signatures.forEach((s, i) => {
        const p = i === r.signatures.length - 1 ? '    ' : '    ';
        process.stdout.write(`${p}${i === r.signatures.length - 1 ? '└──' : '├──'} ${s.digest}\n`);
        if (s.error) return void process.stdout.write(`${p}    error: ${s.error}\n`);
        const lines = [
          `media type: ${s.envelopeMediaType}`,
          `signing scheme: ${s.signingScheme}`,
          `signature algorithm: ${s.signatureAlgorithm}`,
          `signing time: ${s.signingTime}`,
          `expiry: ${s.expiry ?? 'none'}`,
          `signing agent: ${s.signingAgent ?? ''}`,
          `timestamp countersignature: ${s.timestamped ? 'yes' : 'no'}`,
          `user metadata: ${
            Object.entries(s.userMetadata ?? {})
              .map(([k, v]) => `${k}=${v}`)
              .join(', ') || 'none'
          }`,
          'certificates:',
          ...(s.certificateChain ?? []).map(
            (c) => `  ${c.subject} (issuer ${c.issuer}; ${c.notBefore} to ${c.notAfter}; sha256 ${c.sha256})`
          ),
        ];
        for (const l of lines) process.stdout.write(`${p}    ${l}\n`);
      });
    });

  const blob = program
    .command('blob')
    .description('Detached signatures for files (Notary Project envelopes next to the file).');
  keylessOptions(blob.command('sign').description('Sign a file; writes FILE.jws.sig or FILE.cose.sig.'), '--bundle')
    .argument('<file>', 'file to sign')
    .option('-k, --key <name>', 'signing key (default: the default key); with --bundle also a PEM private key file')
    .option('--signature-format <format>', 'jws or cose', 'jws')
    .option('--media-type <type>', 'media type recorded in the signature', 'application/octet-stream')
    .option('-e, --expiry <duration>', 'signature lifetime, e.g. 90d')
    .option('-m, --user-metadata <k=v>', 'signed metadata (repeatable)', collect, [])
    .option('--signature <path>', 'where to write the signature')
    .option(
      '--bundle <path>',
      'write a Sigstore bundle (v0.3 message signature) instead of a Notary signature: with a key and no transparency log (cosign sign-blob --bundle --tlog-upload=false), or keyless with --identity-token'
    )
    .option('--passphrase-stdin', 'passphrase of an encrypted key')
    .addHelpText(
      'after',
      '\nExamples:\n  signet blob sign release.tar.gz --key release && signet blob verify release.tar.gz --signature release.tar.gz.jws.sig\n  signet blob sign release.tar.gz --key release --bundle release.sigstore.json   (cosign verify-blob --key --bundle)\n  signet blob sign release.tar.gz --bundle release.sigstore.json --identity-token "$TOKEN"   (keyless)'
    )
    .action(
      async (
        file: string,
        opts: {
          key?: string;
          signatureFormat: string;
          mediaType: string;
          expiry?: string;
          userMetadata: string[];
          signature?: string;
          bundle?: string;
          passphraseStdin?: boolean;
        } & SigstoreSignFlags
      ) => {
        const keyless = sigstoreKeyless(opts, Boolean(opts.bundle));
        if (opts.bundle) {
          if (opts.signature || opts.expiry || opts.userMetadata.length)
            throw new SignetError('USAGE', '--bundle takes no --signature, --expiry or --user-metadata');
          const passphrase = opts.passphraseStdin ? await readSecret() : undefined;
          const { signBlobBundle } = await import('../../index.ts');
          const r = await signBlobBundle(file, {
            output: opts.bundle,
            ...(keyless ? { keyless } : {}),
            ...(opts.key ? { key: opts.key } : {}),
            ...(passphrase ? { passphrase } : {}),
          });
          process.stdout.write(`${r.bundlePath}\n`);
          return;
        }
        if (opts.signatureFormat !== 'jws' && opts.signatureFormat !== 'cose')
          throw new SignetError('USAGE', '--signature-format must be jws or cose');
        const passphrase = opts.passphraseStdin ? await readSecret() : undefined;
        const { signBlob } = await import('../../index.ts');
        const r = await signBlob(file, {
          signatureFormat: opts.signatureFormat,
          mediaType: opts.mediaType,
          userMetadata: keyValues(opts.userMetadata, '--user-metadata'),
          ...(opts.key ? { key: opts.key } : {}),
          ...(opts.expiry ? { expirySeconds: parseDuration(opts.expiry) } : {}),
          ...(opts.signature ? { output: opts.signature } : {}),
          ...(passphrase ? { passphrase } : {}),
        });
        process.stdout.write(`${r.signaturePath}\n`);
      }
    );
  githubWorkflowOptions(
    blob
      .command('verify')
      .description(
        'Verify a detached signature of a file under the blob trust policy ($SIGNET_HOME/trustpolicy.blob.json).'
      ),
    'with --bundle: '
  )
    .argument('<file>', 'the file (with --bundle also sha256:<hex>: a digest without the file)')
    .option('--signature <path>', 'signature file (.jws.sig or .cose.sig)')
    .option('--bundle <path>', 'a Sigstore bundle (cosign sign-blob --bundle) instead of --signature')
    .option(
      '--key <file>',
      'with --bundle: a PEM public key or a Signet key name (repeatable: any of them)',
      collect,
      []
    )
    .option('--certificate-identity <id>', 'with --bundle: the keyless identity, exactly')
    .option('--certificate-identity-regexp <re>', 'with --bundle: the keyless identity as an RE2 expression')
    .option('--certificate-oidc-issuer <url>', 'with --bundle: the OIDC issuer, exactly')
    .option('--certificate-oidc-issuer-regexp <re>', 'with --bundle: the OIDC issuer as an RE2 expression')
    .option('--trusted-root <file>', 'with --bundle: Sigstore trusted_root.json (default: the public-good root)')
    .option('--offline', 'with --bundle: no network; the public-good trusted root from its cache only (its age shown)')
    .option('--policy-name <name>', 'blob policy statement (default: the globalPolicy statement)')
    .option('--policy <file>', 'blob trust policy file')
    .option('--media-type <type>', 'require this media type')
    .option('-m, --user-metadata <k=v>', 'required signed metadata (repeatable)', collect, [])
    .option('-o, --output <format>', 'text or json', 'text')
    .action(
      async (
        file: string,
        opts: SigstoreFlags & {
          signature?: string;
          bundle?: string;
          policyName?: string;
          policy?: string;
          mediaType?: string;
          userMetadata: string[];
          output: string;
        }
      ) => {
        const format = parseOutputFormat(opts.output, ['text', 'json']);
        const { verifyBlob, verifySigstoreBlob, formatReport } = await import('../../index.ts');
        if (!opts.signature === !opts.bundle) throw new SignetError('USAGE', 'give --signature or --bundle');
        const o = opts.bundle
          ? await verifySigstoreBlob(file, opts.bundle, (await withKeyNames(sigstoreSources(opts))).sigstore ?? {})
          : await verifyBlob(file, opts.signature!, {
              userMetadata: keyValues(opts.userMetadata, '--user-metadata'),
              ...(opts.policyName ? { policyName: opts.policyName } : {}),
              ...(opts.policy ? { trustPolicy: opts.policy } : {}),
              ...(opts.mediaType ? { mediaType: opts.mediaType } : {}),
            });
        if (format === 'json') printJson(o);
        else process.stdout.write(formatReport(o));
        if (o.verdict === 'inconclusive')
          throw new SignetError('VERIFICATION_INCONCLUSIVE', `${file} could not be verified either way`);
        if (o.verdict !== 'verified') throw new SignetError('VERIFICATION_FAILED', `${file} failed verification`);
      }
    );
}

/** One line for a decoded Sigstore bundle (inspect). */
function bundleLine(b: BundleSummary): string {
  const what = b.predicateType ? `${b.content} (predicate ${b.predicateType})` : b.content;
  const issuer = b.certificateIssuer ? `, certificate issued by ${b.certificateIssuer}` : '';
  return `${b.mediaType}: ${what} by ${b.signer}${issuer}; ${b.tlogEntries} transparency log entr${b.tlogEntries === 1 ? 'y' : 'ies'}, ${b.timestamps} timestamp(s)`;
}
