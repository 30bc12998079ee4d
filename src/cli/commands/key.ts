import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { KEY_TYPES, type GpgKeyType, type KeyDescription, type KeyType } from '../../index.ts';

const pki = () => import('../../index.ts');
import { SignetError } from '../../index.ts';
import { parseOutputFormat, printJson } from '../output.ts';
import { collect, keyValues, readSecret } from './args.ts';

// The OpenPGP types of KeyStore.generateGpg (typed against it; listed here so help stays cheap).
const GPG_KEY_TYPES: GpgKeyType[] = ['gpg-rsa4096', 'gpg-ed25519'];
const ALL_KEY_TYPES: string[] = [...KEY_TYPES, ...GPG_KEY_TYPES];

const dn = (s: string): string => s.split('\n').reverse().join(', ');

function printKey(d: KeyDescription): void {
  const head = `${d.name}${d.isDefault ? ' (default)' : ''}\n`;
  if (d.kind === 'plugin') {
    const config = Object.entries(d.pluginConfig)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ');
    const configLine = config ? `  plugin config: ${config}\n` : '';
    process.stdout.write(`${head}  held by plugin: ${d.plugin}\n  key id: ${d.id}\n${configLine}`);
    return;
  }
  if (d.kind === 'gpg') {
    const ids = d.userIds.map((u) => `  user id: ${u}\n`).join('');
    process.stdout.write(`${head}  OpenPGP key, fingerprint ${d.fingerprint}\n${ids}  key file: ${d.keyPath}\n`);
    return;
  }
  process.stdout.write(head);
  for (const [i, c] of d.chain.entries()) {
    process.stdout.write(
      `${i === 0 ? 'leaf' : 'issuer'}: ${dn(c.subject)}\n  issuer: ${dn(c.issuer)}\n` +
        `  valid: ${new Date(c.validFrom).toISOString()} to ${new Date(c.validTo).toISOString()}\n` +
        `  sha256: ${c.fingerprint256.replace(/:/g, '').toLowerCase()}\n`
    );
  }
}

export function registerKey(program: Command): void {
  const key = program
    .command('key')
    .description('Manage signing keys and their certificate chains ($SIGNET_HOME/keys).');
  key
    .command('generate')
    .description('Generate a key with a certificate: self-signed, or issued by another local CA key.')
    .argument('<name>', 'key name')
    .option(
      '--type <type>',
      `key type: ${KEY_TYPES.join(', ')}; or ${GPG_KEY_TYPES.join(', ')} (OpenPGP, for simple signing)`,
      'ecdsa-p256'
    )
    .option('--subject <dn>', 'certificate subject, e.g. "CN=release,O=Example,ST=WA,C=US"')
    .option('--issuer <key>', 'sign the certificate with this local CA key (builds root → intermediate → leaf chains)')
    .option('--ca', 'make a CA certificate (to issue others with --issuer)')
    .option('--path-length <n>', 'CA path length constraint')
    .option('--validity-days <n>', 'validity in days (default 365, CA 3650)')
    .option('--default', 'make it the default signing key')
    .option('--passphrase-stdin', 'encrypt the key with a passphrase read from standard input')
    .addHelpText(
      'after',
      `
Examples:
  signet key generate root --ca --type ecdsa-p384 --subject "CN=Example Root,O=Example,ST=WA,C=US"
  signet key generate ci-intermediate --ca --issuer root --subject "CN=CI,O=Example,ST=WA,C=US"
  signet key generate release --issuer ci-intermediate --default --subject "CN=release,O=Example,ST=WA,C=US"
  signet key show root --cert > root.pem && signet cert add --type ca --store example root.pem`
    )
    .action(
      async (
        name: string,
        opts: {
          type: string;
          subject?: string;
          issuer?: string;
          ca?: boolean;
          pathLength?: string;
          validityDays?: string;
          default?: boolean;
          passphraseStdin?: boolean;
        }
      ) => {
        if (!ALL_KEY_TYPES.includes(opts.type)) {
          const message = `unknown --type ${opts.type}; choose one of ${ALL_KEY_TYPES.join(', ')}`;
          throw new SignetError('USAGE', message);
        }
        if ((GPG_KEY_TYPES as string[]).includes(opts.type)) {
          const type = opts.type as GpgKeyType;
          const userId = opts.subject ? { userId: opts.subject } : {};
          const gpgOptions = { type, isDefault: Boolean(opts.default), ...userId };
          const g = await (await (await pki()).openKeyStore()).generateGpg(name, gpgOptions);
          process.stdout.write(`Generated OpenPGP key ${name} (${opts.type}), fingerprint ${g.fingerprint}\n`);
          return;
        }
        const passphrase = opts.passphraseStdin ? await readSecret() : undefined;
        const k = await (
          await (await pki()).openKeyStore()
        ).generate(name, {
          type: opts.type as KeyType,
          ...(opts.subject ? { subject: opts.subject } : {}),
          ...(opts.issuer ? { issuer: opts.issuer } : {}),
          ca: Boolean(opts.ca),
          ...(opts.pathLength !== undefined ? { pathLength: Number(opts.pathLength) } : {}),
          ...(opts.validityDays ? { validityDays: Number(opts.validityDays) } : {}),
          isDefault: Boolean(opts.default),
          ...(passphrase ? { passphrase } : {}),
        });
        const leaf = k.chain[0]!;
        process.stdout.write(
          `Generated ${opts.type} key ${name}: ${leaf.subject.split('\n').reverse().join(', ')} (chain of ${k.chain.length}, valid until ${new Date(leaf.validTo).toISOString()})\n`
        );
      }
    );
  key
    .command('import')
    .description('Import a PKCS#8 PEM key with its certificate chain (leaf first).')
    .argument('<name>', 'key name')
    .option('--key <file>', 'private key, PKCS#8 PEM (encrypted ones need --passphrase-stdin)')
    .option('--cert <file>', 'certificate chain PEM, leaf first, root last')
    .option(
      '--gpg-secret-key <file>',
      'an OpenPGP secret key as gpg --export-secret-keys writes it (armored or binary), for simple signing'
    )
    .option('--default', 'make it the default signing key')
    .option('--passphrase-stdin', 'passphrase of an encrypted key, from standard input (the key stays encrypted)')
    .addHelpText(
      'after',
      '\nExample:\n  signet key import release --key release.key --cert release-chain.pem --default'
    )
    .action(
      async (
        name: string,
        opts: { key?: string; cert?: string; gpgSecretKey?: string; default?: boolean; passphraseStdin?: boolean }
      ) => {
        if (opts.gpgSecretKey) {
          const g = await (
            await (await pki()).openKeyStore()
          ).importGpg(name, await readFile(opts.gpgSecretKey), { isDefault: Boolean(opts.default) });
          return void process.stdout.write(`Imported OpenPGP key ${name}, fingerprint ${g.fingerprint}\n`);
        }
        if (!opts.key || !opts.cert)
          throw new SignetError('USAGE', 'key import needs --key and --cert (or --gpg-secret-key)');
        const passphrase = opts.passphraseStdin ? await readSecret() : undefined;
        await (
          await (await pki()).openKeyStore()
        ).import(name, {
          keyPem: await readFile(opts.key, 'utf8'),
          chainPem: await readFile(opts.cert, 'utf8'),
          isDefault: Boolean(opts.default),
          ...(passphrase ? { passphrase } : {}),
        });
        process.stdout.write(`Imported key ${name}\n`);
      }
    );
  key
    .command('add')
    .description('Register a key held by a plugin (HSM, KMS): signing asks the plugin, the key never leaves it.')
    .argument('<name>', 'key name')
    .requiredOption('--plugin <name>', 'installed plugin (signet plugin list)')
    .requiredOption('--id <keyId>', "the plugin's key identifier")
    .option('--plugin-config <k=v>', 'plugin configuration (repeatable)', collect, [])
    .option('--default', 'make it the default signing key')
    .action(async (name: string, opts: { plugin: string; id: string; pluginConfig: string[]; default?: boolean }) => {
      await (await import('../../index.ts')).pluginMetadata(opts.plugin);
      await (
        await (await pki()).openKeyStore()
      ).addPluginKey(name, {
        id: opts.id,
        pluginName: opts.plugin,
        pluginConfig: keyValues(opts.pluginConfig, '--plugin-config'),
        isDefault: Boolean(opts.default),
      });
      process.stdout.write(`Added key ${name} (plugin ${opts.plugin}, key id ${opts.id})
`);
    });
  key
    .command('list')
    .alias('ls')
    .description('List signing keys (never prints key material).')
    .option('-o, --output <format>', 'text or json', 'text')
    .action(async (opts: { output: string }) => {
      const format = parseOutputFormat(opts.output, ['text', 'json']);
      const keys = await (await (await pki()).openKeyStore()).list();
      if (format === 'json') return printJson(keys);
      if (!keys.length) return void process.stdout.write('no keys: signet key generate NAME\n');
      for (const k of keys)
        process.stdout.write(
          `${k.isDefault ? '* ' : '  '}${k.name.padEnd(20)} ${k.plugin ? `plugin ${k.plugin}` : `${(k.keySpec ?? '').padEnd(14)} ${k.ca ? 'CA ' : '   '}${k.subject ?? ''}  (until ${k.notAfter ?? '?'})`}\n`
        );
    });
  key
    .command('show')
    .description('Show a key: its certificate chain, the plugin holding it, or its OpenPGP fingerprint.')
    .argument('<name>', 'key name (signet key list)')
    .option('--cert', 'print the certificate chain as PEM')
    .option(
      '--public',
      'print the public key: PEM SubjectPublicKeyInfo (for verify --cosign-key, cosign, openssl), or armored OpenPGP'
    )
    .option('--gpg-public', 'write the OpenPGP public key (binary) of a gpg key to standard output')
    .addHelpText(
      'after',
      '\nExamples:\n  signet key show release --public > release.pub\n  signet key show root --cert > root.pem'
    )
    .action(async (name: string, opts: { cert?: boolean; public?: boolean; gpgPublic?: boolean }) => {
      if ([opts.cert, opts.public, opts.gpgPublic].filter(Boolean).length > 1) {
        throw new SignetError('USAGE', '--cert, --public and --gpg-public go one at a time');
      }
      const store = await (await pki()).openKeyStore();
      if (opts.gpgPublic) return void process.stdout.write((await store.gpgKey(name)).publicKey);
      if (opts.public) return void process.stdout.write(await store.publicKey(name));
      const d = await store.describe(name);
      if (opts.cert) {
        if (d.kind !== 'x509') {
          const what = d.kind === 'gpg' ? 'an OpenPGP key' : `held by plugin ${d.plugin}`;
          const message = `key ${name} has no local certificate chain (it is ${what})`;
          throw new SignetError('USAGE', message);
        }
        return void process.stdout.write(await (await pki()).toPem(d.chain));
      }
      printKey(d);
    });
  key
    .command('delete')
    .alias('rm')
    .description('Delete a key and its certificate files.')
    .argument('<name>', 'key name')
    .action(async (name: string) => {
      await (await (await pki()).openKeyStore()).delete(name);
      process.stdout.write(`Deleted key ${name}\n`);
    });
}
