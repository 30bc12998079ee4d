import type { Command } from 'commander';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { StoreType } from '../../trust/index.ts';

const trust = () => import('../../trust/index.ts');
import { SignetError, signetHome } from '../../util/index.ts';
import { printJson } from '../output.ts';
import { collect } from './args.ts';

export function registerTrust(program: Command): void {
  const cert = program.command('cert').description('Manage the trust store ($SIGNET_HOME/truststore/x509/{ca,signingAuthority,tsa}/<store>/).');
  cert
    .command('add')
    .description('Add certificates (root CAs, or self-signed signing certificates) to a named store.')
    .requiredOption('-t, --type <type>', 'ca, signingAuthority or tsa')
    .requiredOption('-s, --store <name>', 'named store, referred to as <type>:<name> in the trust policy')
    .argument('<files...>', 'PEM or DER certificate files')
    .addHelpText('after', '\nExample:\n  signet cert add --type ca --store acme acme-root.pem\n  (then trust it in the policy: "trustStores": ["ca:acme"])')
    .action(async (files: string[], opts: { type: string; store: string }) => {
      const added = await new (await trust()).TrustStore().add(opts.type as StoreType, opts.store, files);
      process.stdout.write(`Added ${added.length} file(s) to ${opts.type}:${opts.store}\n`);
    });
  cert
    .command('list')
    .alias('ls')
    .description('List the trust stores and their files.')
    .option('-o, --output <format>', 'text or json', 'text')
    .action(async (opts: { output: string }) => {
      const stores = await new (await trust()).TrustStore().list();
      if (opts.output === 'json') return printJson(stores);
      if (!stores.length) return void process.stdout.write('no trust stores: signet cert add --type ca --store NAME FILE\n');
      for (const s of stores) process.stdout.write(`${s.type}:${s.name}\n${s.files.map((f) => `  ${f}\n`).join('')}`);
    });
  cert
    .command('show')
    .description("Show a store's certificates (after checking every rule a verifier applies).")
    .requiredOption('-t, --type <type>', 'ca, signingAuthority or tsa')
    .requiredOption('-s, --store <name>', 'named store')
    .action(async (opts: { type: string; store: string }) => {
      for (const c of await new (await trust()).TrustStore().getCertificates(opts.type as StoreType, opts.store)) {
        process.stdout.write(`${c.subject.split('\n').reverse().join(', ')}\n  issuer: ${c.issuer.split('\n').reverse().join(', ')}\n  valid: ${new Date(c.validFrom).toISOString()} to ${new Date(c.validTo).toISOString()}\n  sha256: ${c.fingerprint256.replace(/:/g, '').toLowerCase()}\n`);
      }
    });
  cert
    .command('delete')
    .alias('rm')
    .description('Delete one certificate file from a store, or the whole store with --all.')
    .requiredOption('-t, --type <type>', 'ca, signingAuthority or tsa')
    .requiredOption('-s, --store <name>', 'named store')
    .option('--all', 'delete the whole store')
    .argument('[file]', 'certificate file name in the store')
    .action(async (file: string | undefined, opts: { type: string; store: string; all?: boolean }) => {
      if (!file && !opts.all) throw new SignetError('USAGE', 'name a certificate file, or --all', { kind: 'usage' });
      await new (await trust()).TrustStore().delete(opts.type as StoreType, opts.store, opts.all ? undefined : file);
      process.stdout.write('Deleted\n');
    });

  const policy = program.command('policy').description('Manage the trust policy ($SIGNET_HOME/trustpolicy.json, trustpolicy.blob.json).');
  policy
    .command('import')
    .description('Validate a trust policy document and make it the active one.')
    .argument('<file>', 'trust policy JSON')
    .option('--blob', 'the blob trust policy (for signet blob verify)')
    .option('--force', 'replace an existing policy')
    .action(async (file: string, opts: { blob?: boolean; force?: boolean }) => {
      const text = await readFile(file, 'utf8');
      if (opts.blob) (await trust()).loadBlobTrustPolicy(text);
      else (await trust()).loadTrustPolicy(text);
      const dest = opts.blob ? join(signetHome(), 'trustpolicy.blob.json') : (await import('../../verify.ts')).defaultTrustPolicyPath();
      const { existsSync } = await import('node:fs');
      if (existsSync(dest) && !opts.force) throw new SignetError('USAGE', `${dest} exists; use --force to replace it`, { kind: 'usage' });
      await mkdir(signetHome(), { recursive: true });
      await writeFile(dest, text);
      process.stdout.write(`Trust policy imported to ${dest}\n`);
    });
  policy
    .command('show')
    .description('Print the active trust policy (after validating it).')
    .option('--blob', 'the blob trust policy')
    .action(async (opts: { blob?: boolean }) => {
      const path = opts.blob ? join(signetHome(), 'trustpolicy.blob.json') : (await import('../../verify.ts')).defaultTrustPolicyPath();
      const text = await readFile(path, 'utf8').catch(() => {
        throw new SignetError('POLICY_MISSING', `no trust policy at ${path} (signet policy init or signet policy import)`, { kind: 'input' });
      });
      if (opts.blob) (await trust()).loadBlobTrustPolicy(text);
      else (await trust()).loadTrustPolicy(text);
      process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
    });
  policy
    .command('init')
    .description('Write a trust policy with one statement.')
    .requiredOption('--name <name>', 'statement name')
    .option('--scope <scope>', 'registry scope: registry/repository, or "*" (repeatable)', collect, [])
    .requiredOption('--trust-store <type:name>', 'trust store, e.g. ca:acme (repeatable)', collect, [])
    .option('--identity <id>', 'trusted identity: "*" or "x509.subject: C=US, ST=WA, O=Acme" (repeatable)', collect, [])
    .option('--level <level>', 'strict, permissive, audit or skip', 'strict')
    .option('--blob', 'write the blob trust policy (a globalPolicy statement) instead')
    .option('--force', 'replace an existing policy')
    .addHelpText('after', `\nExample:\n  signet policy init --name acme --scope registry.acme.io/app --trust-store ca:acme \\\n      --identity "x509.subject: CN=release,O=Acme,ST=WA,C=US"`)
    .action(async (opts: { name: string; scope: string[]; trustStore: string[]; identity: string[]; level: string; blob?: boolean; force?: boolean }) => {
      const statement: Record<string, unknown> = {
        name: opts.name,
        ...(opts.blob ? { globalPolicy: true } : { registryScopes: opts.scope.length ? opts.scope : ['*'] }),
        signatureVerification: { level: opts.level },
        trustStores: opts.trustStore,
        trustedIdentities: opts.identity.length ? opts.identity : ['*'],
      };
      const doc = { version: '1.0', trustPolicies: [statement] };
      if (opts.blob) (await trust()).loadBlobTrustPolicy(doc);
      else (await trust()).loadTrustPolicy(doc);
      const dest = opts.blob ? join(signetHome(), 'trustpolicy.blob.json') : (await import('../../verify.ts')).defaultTrustPolicyPath();
      const { existsSync } = await import('node:fs');
      if (existsSync(dest) && !opts.force) throw new SignetError('USAGE', `${dest} exists; use --force to replace it`, { kind: 'usage' });
      await mkdir(signetHome(), { recursive: true });
      await writeFile(dest, `${JSON.stringify(doc, null, 2)}\n`);
      process.stdout.write(`Wrote ${dest}\n`);
    });
}
