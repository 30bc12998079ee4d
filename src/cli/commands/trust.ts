import type { Command } from 'commander';
import { SignetError, type StoreType } from '../../index.ts';
import { parseOutputFormat, printJson } from '../output.ts';
import { collect } from './args.ts';

const trust = () => import('../../index.ts');

export function registerTrust(program: Command): void {
  const cert = program
    .command('cert')
    .description('Manage the trust store ($SIGNET_HOME/truststore/x509/{ca,signingAuthority,tsa}/<store>/).');
  cert
    .command('add')
    .description('Add certificates (root CAs, or self-signed signing certificates) to a named store.')
    .requiredOption('-t, --type <type>', 'ca, signingAuthority or tsa')
    .requiredOption('-s, --store <name>', 'named store, referred to as <type>:<name> in the trust policy')
    .argument('<files...>', 'PEM or DER certificate files')
    .addHelpText(
      'after',
      '\nExample:\n  signet cert add --type ca --store acme acme-root.pem\n  (then trust it in the policy: "trustStores": ["ca:acme"])'
    )
    .action(async (files: string[], opts: { type: string; store: string }) => {
      const added = await (await (await trust()).openTrustStore()).add(opts.type as StoreType, opts.store, files);
      process.stdout.write(`Added ${added.length} file(s) to ${opts.type}:${opts.store}\n`);
    });
  cert
    .command('list')
    .alias('ls')
    .description('List the trust stores and their files.')
    .option('-o, --output <format>', 'text or json', 'text')
    .action(async (opts: { output: string }) => {
      const format = parseOutputFormat(opts.output, ['text', 'json']);
      const stores = await (await (await trust()).openTrustStore()).list();
      if (format === 'json') return printJson(stores);
      if (!stores.length)
        return void process.stdout.write('no trust stores: signet cert add --type ca --store NAME FILE\n');
      for (const s of stores) process.stdout.write(`${s.type}:${s.name}\n${s.files.map((f) => `  ${f}\n`).join('')}`);
    });
  cert
    .command('show')
    .description("Show a store's certificates (after checking every rule a verifier applies).")
    .requiredOption('-t, --type <type>', 'ca, signingAuthority or tsa')
    .requiredOption('-s, --store <name>', 'named store')
    .action(async (opts: { type: string; store: string }) => {
      for (const c of await (
        await (await trust()).openTrustStore()
      ).getCertificates(opts.type as StoreType, opts.store)) {
        process.stdout.write(
          `${c.subject.split('\n').reverse().join(', ')}\n  issuer: ${c.issuer.split('\n').reverse().join(', ')}\n  valid: ${new Date(c.validFrom).toISOString()} to ${new Date(c.validTo).toISOString()}\n  sha256: ${c.fingerprint256.replace(/:/g, '').toLowerCase()}\n`
        );
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
      if (!file && !opts.all) throw new SignetError('USAGE', 'name a certificate file, or --all');
      await (
        await (await trust()).openTrustStore()
      ).delete(opts.type as StoreType, opts.store, opts.all ? undefined : file);
      process.stdout.write('Deleted\n');
    });

  const policy = program
    .command('policy')
    .description('Manage the trust policy ($SIGNET_HOME/trustpolicy.json, trustpolicy.blob.json).');
  policy
    .command('import')
    .description('Validate a trust policy document and make it the active one.')
    .argument('<file>', 'trust policy JSON')
    .option('--blob', 'the blob trust policy (for signet blob verify)')
    .option('--force', 'replace an existing policy')
    .action(async (file: string, opts: { blob?: boolean; force?: boolean }) => {
      const { importTrustPolicy } = await trust();
      const dest = await importTrustPolicy(file, { blob: Boolean(opts.blob), replace: Boolean(opts.force) });
      process.stdout.write(`Trust policy imported to ${dest}\n`);
    });
  policy
    .command('show')
    .description('Print the active trust policy (after validating it).')
    .option('--blob', 'the blob trust policy')
    .action(async (opts: { blob?: boolean }) => {
      const { text } = await (await trust()).readTrustPolicyText({ blob: Boolean(opts.blob) });
      process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
    });
  policy
    .command('init')
    .description('Write a trust policy statement: a new policy, or one added to (or replaced in) the policy in place.')
    .requiredOption('--name <name>', 'statement name (an existing statement of that name is replaced)')
    .option('--scope <scope>', 'registry/repository, oci:<path glob>, or "*" (repeatable; default "*")', collect, [])
    .requiredOption('--trust-store <type:name>', 'trust store, e.g. ca:acme (repeatable)', collect, [])
    .option('--identity <id>', 'trusted identity: "*" or "x509.subject: C=US, ST=WA, O=Acme" (repeatable)', collect, [])
    .option('--level <level>', 'strict, permissive, audit or skip', 'strict')
    .option('--blob', 'write the blob trust policy (a globalPolicy statement) instead')
    .option('--force', 'replace the whole policy with this one statement')
    .addHelpText(
      'after',
      `
With a policy in place, the statement is added beside the others (or replaces the statement of the
same name); a scope another statement already has is refused. --force starts the policy afresh.

Examples:
  signet policy init --name default --trust-store ca:acme --identity "x509.subject: CN=ci,O=Acme,ST=WA,C=US"
  signet policy init --name acme --scope registry.acme.io/app --trust-store ca:acme \\
      --identity "x509.subject: CN=release,O=Acme,ST=WA,C=US"`
    )
    .action(async (opts: PolicyInitOptions) => {
      const statement: Record<string, unknown> = {
        name: opts.name,
        ...(opts.blob ? { globalPolicy: true } : { registryScopes: opts.scope.length ? opts.scope : ['*'] }),
        signatureVerification: { level: opts.level },
        trustStores: opts.trustStore,
        trustedIdentities: opts.identity.length ? opts.identity : ['*'],
      };
      const { writeTrustPolicyStatement } = await trust();
      const r = await writeTrustPolicyStatement(statement, { blob: Boolean(opts.blob), fresh: Boolean(opts.force) });
      const statementName = `statement "${opts.name}"`;
      const how = { wrote: 'Wrote', replaced: `Replaced ${statementName} in`, added: `Added ${statementName} to` };
      process.stdout.write(`${how[r.action]} ${r.path}\n`);
    });
}

interface PolicyInitOptions {
  name: string;
  scope: string[];
  trustStore: string[];
  identity: string[];
  level: string;
  blob?: boolean;
  force?: boolean;
}
