import type { Command } from 'commander';
import { parseReference, SignetError } from '../../index.ts';
import { parseOutputFormat, printJson } from '../output.ts';
import {
  collect,
  keyValues,
  parseDuration,
  readSecret,
  registryFlags,
  registryOpenOptions,
  type RegistryFlags,
} from './args.ts';

/** Adds the keyless Sigstore flags (cosign's names) to `sign` and `blob sign`; `when` says what they go with. */
export function keylessOptions(cmd: Command, when: string): Command {
  return cmd
    .option(
      '--identity-token <jwt>',
      `with ${when}: sign keyless with this OIDC identity token (default: $SIGSTORE_ID_TOKEN when no --key is given)`
    )
    .option('--fulcio-url <url>', 'keyless: the Fulcio CA', 'https://fulcio.sigstore.dev')
    .option('--rekor-url <url>', 'keyless: the Rekor transparency log', 'https://rekor.sigstore.dev')
    .option('--tsa-url <url>', 'keyless: also timestamp the signature at this RFC 3161 TSA');
}

/** The keyless Sigstore flags of `sign` and `blob sign`, in cosign's words. */
export interface SigstoreSignFlags {
  identityToken?: string;
  fulcioUrl: string;
  rekorUrl: string;
  tsaUrl?: string;
}

const PUBLIC_FULCIO = 'https://fulcio.sigstore.dev';
const PUBLIC_REKOR = 'https://rekor.sigstore.dev';

/**
 * Keyless signing when an identity token is given (`--identity-token`, or `SIGSTORE_ID_TOKEN` when
 * no `--key` is); the service URLs apply only then. `bundle`: a Sigstore bundle is being made.
 */
export function sigstoreKeyless(
  opts: SigstoreSignFlags & { key?: string },
  bundle: boolean
): { identityToken: string; fulcioURL: string; rekorURL: string; tsaURL?: string } | undefined {
  const envToken = process.env.SIGSTORE_ID_TOKEN;
  const token = opts.identityToken ?? (opts.key === undefined && bundle && envToken ? envToken : undefined);
  const services = opts.fulcioUrl !== PUBLIC_FULCIO || opts.rekorUrl !== PUBLIC_REKOR || opts.tsaUrl !== undefined;
  if (opts.identityToken !== undefined && !bundle)
    throw new SignetError('USAGE', '--identity-token signs a Sigstore bundle (--signature-format sigstore-bundle)');
  if (token === undefined) {
    if (services)
      throw new SignetError(
        'USAGE',
        '--fulcio-url, --rekor-url and --tsa-url apply to keyless signing (--identity-token)'
      );
    return undefined;
  }
  if (opts.identityToken !== undefined && opts.key !== undefined)
    throw new SignetError('USAGE', 'sign with --key or keyless with --identity-token, not both');
  if (!token.trim()) throw new SignetError('USAGE', 'the identity token is empty');
  return {
    identityToken: token.trim(),
    fulcioURL: opts.fulcioUrl,
    rekorURL: opts.rekorUrl,
    ...(opts.tsaUrl !== undefined ? { tsaURL: opts.tsaUrl } : {}),
  };
}

function parseSeqFlag(v: string): number {
  if (!/^(0|[1-9][0-9]*)$/.test(v) || !Number.isSafeInteger(Number(v)))
    throw new SignetError('USAGE', `--seq takes a non-negative whole number, not ${JSON.stringify(v)}`);
  return Number(v);
}

export function registerSign(program: Command): void {
  const signCmd = program
    .command('sign')
    .description(
      'Sign an artifact (Notary Project signature); the signature is stored beside it as a referrer. Prints the signature digest.'
    )
    .argument('<ref>', 'artifact reference: registry/repo:tag|@digest, or oci:<layout>:tag|@digest')
    .option(
      '-k, --key <name>',
      'signing key (default: the default key; signet key list); with --signature-format sigstore-bundle also a PEM private key file'
    )
    .option(
      '--signature-format <format>',
      'jws or cose (Notary Project), cosign (key-based, sha256-<hex>.sig), sigstore-bundle (a v0.3 Sigstore bundle referrer, as cosign 3 signs: with --key and no transparency log, or keyless with --identity-token), simple (containers GPG signing, lookaside), or layout (GPG signatures in an OCI layout index.json, Flatpak-style)',
      'jws'
    )
    .option('-e, --expiry <duration>', 'signature lifetime, e.g. 90d, 12h (the signature fails verification after it)')
    .option('-m, --user-metadata <k=v>', 'signed metadata, checked by `signet verify -m` (repeatable)', collect, [])
    .option('--recursive', 'for an image index: also sign every platform manifest')
    .option(
      '--name <name>',
      'logical name signed into dev.signet.name (default: the repository path; required to bind a layout)'
    )
    .option('--seq <n>', 'dev.signet.seq to sign (default: above every seq seen, and at least the clock in ms)')
    .option('--no-name-binding', 'sign no dev.signet.* name binding (a plain Notary signature)')
    .option('--passphrase-stdin', 'passphrase of an encrypted key, from standard input')
    .option('--plugin <name>', 'sign with a key held by this plugin (with --id)')
    .option('--id <keyId>', "the plugin's key identifier")
    .option('--plugin-config <k=v>', 'plugin configuration (repeatable)', collect, [])
    .option(
      '--cosign-referrers',
      "with --signature-format cosign: store the signature as an OCI 1.1 referrer (cosign's oci-1-1 mode) instead of the .sig tag"
    )
    .option(
      '--registries-d <dir>',
      'containers registries.d: where --signature-format simple writes (lookaside-staging or lookaside, file://)'
    )
    .option(
      '--timestamp-url <url>',
      'RFC 3161 timestamp authority: the signature gets a countersignature, so it outlives its certificate'
    )
    .option(
      '--timestamp-root-cert <file>',
      'root certificate (PEM) the TSA must chain to; required with --timestamp-url'
    )
    .option(
      '--tuf <tufref>',
      'Layer B: also publish the signed digest as the TUF target oci:<name>:<tag> in this repository (jws/cose, by tag)'
    )
    .option('-o, --output <format>', 'text or json', 'text');
  keylessOptions(signCmd, '--signature-format sigstore-bundle');
  registryFlags(signCmd)
    .addHelpText(
      'after',
      `
A tag is resolved to the digest it points to now, and that digest is signed (tags are mutable).

Examples:
  signet sign 127.0.0.1:5000/app:v1
  signet sign 127.0.0.1:5000/app@sha256:… --key release --signature-format cose --expiry 90d -m build=42
  signet sign oci:./layout:v1 --recursive
  signet sign 127.0.0.1:5000/app:v1 --key release --signature-format sigstore-bundle   (cosign verify --key)
  signet sign 127.0.0.1:5000/app:v1 --signature-format sigstore-bundle --identity-token "$TOKEN"   (keyless, public-good)
  signet sign 127.0.0.1:5000/app:v1 --timestamp-url http://tsa.example.com --timestamp-root-cert tsa-root.pem`
    )
    .action(
      async (
        ref: string,
        opts: {
          key?: string;
          signatureFormat: string;
          expiry?: string;
          userMetadata: string[];
          recursive?: boolean;
          passphraseStdin?: boolean;
          output: string;
          timestampUrl?: string;
          timestampRootCert?: string;
          plugin?: string;
          id?: string;
          pluginConfig: string[];
          registriesD?: string;
          cosignReferrers?: boolean;
          name?: string;
          seq?: string;
          nameBinding: boolean;
          tuf?: string;
        } & SigstoreSignFlags &
          RegistryFlags
      ) => {
        const open = registryOpenOptions(opts);
        const output = parseOutputFormat(opts.output, ['text', 'json']);
        if (Boolean(opts.plugin) !== Boolean(opts.id)) throw new SignetError('USAGE', '--plugin and --id go together');
        if (Boolean(opts.timestampUrl) !== Boolean(opts.timestampRootCert))
          throw new SignetError('USAGE', '--timestamp-url and --timestamp-root-cert go together');
        if (opts.tuf && !['jws', 'cose'].includes(opts.signatureFormat))
          throw new SignetError('USAGE', '--tuf goes with a Notary signature (--signature-format jws or cose)');
        const keyless = sigstoreKeyless(opts, opts.signatureFormat === 'sigstore-bundle');
        let timestampRoots;
        if (opts.timestampRootCert) {
          const { readFile } = await import('node:fs/promises');
          const { parseCertificates } = await import('../../index.ts');
          timestampRoots = await parseCertificates(await readFile(opts.timestampRootCert), opts.timestampRootCert);
        }
        if (opts.signatureFormat === 'layout') {
          const { parseReference } = await import('../../index.ts');
          const parsed = parseReference(ref);
          if (parsed.kind !== 'layout' || /^https?:/.test(parsed.path) || parsed.path.endsWith('.tar'))
            throw new SignetError(
              'USAGE',
              '--signature-format layout signs the index.json entries of an OCI layout directory (oci:DIR)'
            );
          const { openKeyStore } = await import('../../index.ts');
          const { signLayout } = await import('../../index.ts');
          const k = await (await openKeyStore()).gpgKey(opts.key);
          const r = await signLayout(parsed.path, {
            armoredKey: k.armored,
            ...(parsed.tag ? { refs: [parsed.tag] } : {}),
          });
          if (output === 'json') return printJson(r);
          for (const x of r) process.stdout.write(`${x.ref} ${x.digest} signed: ${x.signature}\n`);
          return;
        }
        if (opts.signatureFormat === 'simple') {
          if (!opts.registriesD)
            throw new SignetError('USAGE', 'simple signing writes to lookaside storage: give --registries-d DIR');
          const { openKeyStore } = await import('../../index.ts');
          const { signSimple } = await import('../../index.ts');
          const k = await (await openKeyStore()).gpgKey(opts.key);
          const r = await signSimple(ref, {
            armoredKey: k.armored,
            registriesD: opts.registriesD,
            ...(opts.passphraseStdin ? { passphrase: await readSecret() } : {}),
            open,
          });
          if (output === 'json') return printJson(r);
          process.stderr.write(`Signed ${r.dockerReference} (${r.digest}) with simple signing: ${r.path}\n`);
          process.stdout.write(`${r.path}\n`);
          return;
        }
        if (opts.signatureFormat === 'cosign') {
          const { openKeyStore } = await import('../../index.ts');
          const { signCosign } = await import('../../index.ts');
          const key = await (await openKeyStore()).get(opts.key, opts.passphraseStdin ? await readSecret() : undefined);
          const r = await signCosign(ref, key.privateKey, {
            annotations: keyValues(opts.userMetadata, '--user-metadata'),
            referrers: Boolean(opts.cosignReferrers),
            open,
          });
          if (output === 'json') return printJson(r);
          process.stderr.write(
            `Signed ${ref} (cosign, ${r.signatureTag ? `tag ${r.signatureTag}` : 'OCI 1.1 referrer'})\n`
          );
          process.stdout.write(`${r.manifest.digest}\n`);
          return;
        }
        if (opts.signatureFormat === 'sigstore-bundle') {
          // With a key: no transparency log (cosign's --tlog-upload=false), verified with the public key
          // alone. Keyless: a Fulcio certificate, a Rekor entry (and a TSA timestamp).
          const { signSigstoreBundle } = await import('../../index.ts');
          const passphrase = opts.passphraseStdin ? await readSecret() : undefined;
          const r = await signSigstoreBundle(ref, keyless ? { keyless } : opts.key, {
            open,
            ...(passphrase ? { passphrase } : {}),
          });
          if (output === 'json') return printJson({ subject: r.subject, manifest: r.manifest, keyless: r.keyless });
          process.stderr.write(
            `Signed ${ref} (Sigstore bundle v0.3, DSSE, ${r.keyless ? `keyless, logged in ${keyless!.rekorURL}` : 'no transparency log'}; OCI 1.1 referrer)\n`
          );
          process.stdout.write(`${r.manifest.digest}\n`);
          return;
        }
        if (opts.signatureFormat !== 'jws' && opts.signatureFormat !== 'cose')
          throw new SignetError(
            'USAGE',
            `--signature-format must be jws, cose, cosign, sigstore-bundle, simple or layout, not ${opts.signatureFormat}`
          );
        const userMetadata = keyValues(opts.userMetadata, '--user-metadata');
        for (const k of Object.keys(userMetadata))
          if (k.startsWith('io.cncf.notary'))
            throw new SignetError('USAGE', `metadata key ${k} uses the reserved io.cncf.notary prefix`);
        const passphrase = opts.passphraseStdin ? await readSecret() : undefined;
        const tuf = opts.tuf ? tufRelease(ref, opts.tuf) : undefined;
        const { sign } = await import('../../index.ts');
        const results = await sign(ref, {
          signatureFormat: opts.signatureFormat,
          userMetadata,
          recursive: Boolean(opts.recursive),
          ...(opts.key ? { key: opts.key } : {}),
          ...(opts.expiry ? { expirySeconds: parseDuration(opts.expiry) } : {}),
          ...(passphrase ? { passphrase } : {}),
          ...(opts.timestampUrl ? { timestampUrl: opts.timestampUrl, timestampRoots } : {}),
          ...(opts.plugin && opts.id ? { plugin: { pluginName: opts.plugin, id: opts.id } } : {}),
          pluginConfig: keyValues(opts.pluginConfig, '--plugin-config'),
          ...(opts.name !== undefined ? { name: opts.name } : {}),
          ...(opts.seq !== undefined ? { seq: parseSeqFlag(opts.seq) } : {}),
          ...(opts.nameBinding ? {} : { noNameBinding: true }),
          open,
        });
        if (tuf) {
          // The digest just signed, not the tag resolved again: a tag is resolved once.
          const { tufPublish } = await import('../../index.ts');
          const p = await tufPublish(tuf.tufRef, ref, {
            resolved: { descriptor: results[0]!.subject, tag: tuf.tag },
            ...(results[0]!.binding?.name ? { name: results[0]!.binding.name } : opts.name ? { name: opts.name } : {}),
            open,
          });
          process.stderr.write(
            `Published ${p.path} = ${p.digest} in ${tuf.tufRef} (${p.roles.map((x) => `${x.role} v${x.version}`).join(', ')})\n`
          );
        }
        if (output === 'json') return printJson(results);
        for (const r of results) {
          for (const w of r.warnings) process.stderr.write(`Warning: ${w}\n`);
          const b = r.binding;
          const bound = b ? `, bound to ${b.name}${b.tag ? `:${b.tag} seq ${b.seq}` : ''}` : '';
          process.stderr.write(`Signed ${r.reference} (${r.envelopeMediaType}${bound})\n`);
          process.stdout.write(`${r.signature.digest}\n`);
        }
      }
    );
}

/** `--tuf`: the reference must be signed by tag (the TUF target is oci:<name>:<tag>) in a Notary format. */
function tufRelease(ref: string, tufRef: string): { tufRef: string; tag: string } {
  const tag = parseReference(ref).tag;
  if (!tag || parseReference(ref).digest)
    throw new SignetError('USAGE', `--tuf publishes a tag: sign ${ref} by tag (REF:TAG), not by digest`);
  return { tufRef, tag };
}
