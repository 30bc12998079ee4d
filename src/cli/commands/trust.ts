import type { Command } from 'commander';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { StoreType } from '../../index.ts';

const trust = () => import('../../index.ts');
import { SignetError } from '../../index.ts';
import { signetHome } from '../../index.ts';
import { parseOutputFormat, printJson } from '../output.ts';
import { collect } from './args.ts';

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
      const text = await readFile(file, 'utf8');
      await validatePolicy(text, Boolean(opts.blob), file);
      const dest = opts.blob
        ? join(signetHome(), 'trustpolicy.blob.json')
        : (await import('../../index.ts')).defaultTrustPolicyPath();
      const { existsSync } = await import('node:fs');
      if (existsSync(dest) && !opts.force) throw new SignetError('USAGE', `${dest} exists; use --force to replace it`);
      await mkdir(signetHome(), { recursive: true });
      await writeFile(dest, text);
      process.stdout.write(`Trust policy imported to ${dest}\n`);
    });
  policy
    .command('show')
    .description('Print the active trust policy (after validating it).')
    .option('--blob', 'the blob trust policy')
    .action(async (opts: { blob?: boolean }) => {
      const path = opts.blob
        ? join(signetHome(), 'trustpolicy.blob.json')
        : (await import('../../index.ts')).defaultTrustPolicyPath();
      const text = await readFile(path, 'utf8').catch(() => {
        throw new SignetError(
          'POLICY_NOT_FOUND',
          `no trust policy at ${path} (signet policy init or signet policy import)`
        );
      });
      if (opts.blob) await (await trust()).loadBlobTrustPolicy(text);
      else await (await trust()).loadTrustPolicy(text);
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
      const dest = await policyPath(Boolean(opts.blob));
      const existing = opts.force ? undefined : await readPolicy(dest, Boolean(opts.blob));
      const merged = existing ? mergeStatement(existing, statement, dest) : undefined;
      const doc = merged?.doc ?? { version: '1.0', trustPolicies: [statement] };
      await validatePolicy(doc, Boolean(opts.blob), 'policy init');
      await mkdir(signetHome(), { recursive: true });
      await writeFile(dest, `${JSON.stringify(doc, null, 2)}\n`);
      const statementName = `statement "${opts.name}"`;
      const how = !merged ? 'Wrote' : merged.replaced ? `Replaced ${statementName} in` : `Added ${statementName} to`;
      process.stdout.write(`${how} ${dest}\n`);
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

interface PolicyFile {
  version: string;
  trustPolicies: Array<Record<string, unknown>>;
}

async function policyPath(blob: boolean): Promise<string> {
  return blob ? join(signetHome(), 'trustpolicy.blob.json') : (await import('../../index.ts')).defaultTrustPolicyPath();
}

/**
 * Validates a policy document made from command-line arguments: a broken rule is a malformed
 * argument (exit 2), not a failed verification.
 */
async function validatePolicy(doc: unknown, blob: boolean, what: string): Promise<void> {
  const t = await trust();
  try {
    if (blob) await t.loadBlobTrustPolicy(doc);
    else await t.loadTrustPolicy(doc);
  } catch (err) {
    if (err instanceof SignetError && err.code === 'POLICY_INVALID') {
      throw new SignetError('POLICY_INVALID', `${what}: ${err.message}`, { cause: err });
    }
    throw err;
  }
}

/** The active policy document as written, or undefined when there is none (a broken one is an error). */
async function readPolicy(path: string, blob: boolean): Promise<PolicyFile | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new SignetError('IO', `cannot read ${path}: ${(err as Error).message}`);
  }
  try {
    const t = await trust();
    if (blob) await t.loadBlobTrustPolicy(text);
    else await t.loadTrustPolicy(text);
  } catch (err) {
    const reason = (err as Error).message;
    const message = `the policy in place (${path}) is not valid: ${reason}; fix it, or start afresh with --force`;
    throw new SignetError('POLICY_INVALID', message, { cause: err });
  }
  return JSON.parse(text) as PolicyFile;
}

/** Adds a statement (replacing one of the same name); a scope held by another statement is refused. */
function mergeStatement(
  doc: PolicyFile,
  statement: Record<string, unknown>,
  path: string
): { doc: PolicyFile; replaced: boolean } {
  const name = statement.name as string;
  const scopes = (statement.registryScopes as string[] | undefined) ?? [];
  for (const other of doc.trustPolicies) {
    if (other.name === name) continue;
    const taken = ((other.registryScopes as string[] | undefined) ?? []).find((s) => scopes.includes(s));
    if (taken !== undefined) {
      throw new SignetError(
        'POLICY_CONFLICT',
        `scope "${taken}" belongs to statement "${String(other.name)}" of ${path}; a scope may appear in one ` +
          `statement only: use --name ${String(other.name)} to replace that statement, or --force to start afresh`
      );
    }
  }
  const at = doc.trustPolicies.findIndex((s) => s.name === name);
  const trustPolicies = [...doc.trustPolicies];
  if (at >= 0) trustPolicies[at] = statement;
  else trustPolicies.push(statement);
  return { doc: { ...doc, trustPolicies }, replaced: at >= 0 };
}
