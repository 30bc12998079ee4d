import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  defaultTrustPolicyPath,
  MAX_CONFIG_FILE_SIZE,
  readFileBounded,
  SignetError,
  signetHome,
  writeFileAtomic,
} from '../util/index.ts';
import { loadBlobTrustPolicy, loadTrustPolicy } from './policy.ts';

/** The policy files of `$SIGNET_HOME`: the OCI trust policy, or the blob one. */
export function trustPolicyPath(blob = false): string {
  return blob ? join(signetHome(), 'trustpolicy.blob.json') : defaultTrustPolicyPath();
}

interface PolicyFile {
  version: string;
  trustPolicies: Array<Record<string, unknown>>;
}

/** Validates a document; a broken rule names `what` (the file, or the command that made it). */
function validate(doc: unknown, blob: boolean, what: string): void {
  try {
    if (blob) loadBlobTrustPolicy(doc);
    else loadTrustPolicy(doc);
  } catch (err) {
    if (err instanceof SignetError && err.code === 'POLICY_INVALID') {
      throw new SignetError('POLICY_INVALID', `${what}: ${err.message}`, { cause: err });
    }
    throw err;
  }
}

/** The policy document in place as written, or undefined when there is none (a broken one is an error). */
async function readPolicyFile(path: string, blob: boolean): Promise<PolicyFile | undefined> {
  let text: string;
  try {
    text = (await readFileBounded(path, MAX_CONFIG_FILE_SIZE, `trust policy ${path}`)).toString('utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new SignetError('IO', `cannot read ${path}: ${(err as Error).message}`);
  }
  try {
    if (blob) loadBlobTrustPolicy(text);
    else loadTrustPolicy(text);
  } catch (err) {
    const message = `the policy in place (${path}) is not valid: ${(err as Error).message}; fix it, or start afresh`;
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
          `statement only: replace that statement by its name, or start afresh`
      );
    }
  }
  const at = doc.trustPolicies.findIndex((s) => s.name === name);
  const trustPolicies = [...doc.trustPolicies];
  if (at >= 0) trustPolicies[at] = statement;
  else trustPolicies.push(statement);
  return { doc: { ...doc, trustPolicies }, replaced: at >= 0 };
}

/**
 * `signet policy init`: writes one statement into the policy in place (added beside the others,
 * or replacing the one of the same name), or a new policy (`fresh`, or none in place). The whole
 * document is validated before it is written, atomically.
 */
export async function writeTrustPolicyStatement(
  statement: Record<string, unknown>,
  options: { blob?: boolean; fresh?: boolean; path?: string } = {}
): Promise<{ path: string; action: 'wrote' | 'added' | 'replaced' }> {
  const blob = Boolean(options.blob);
  const path = options.path ?? trustPolicyPath(blob);
  const existing = options.fresh ? undefined : await readPolicyFile(path, blob);
  const merged = existing ? mergeStatement(existing, statement, path) : undefined;
  const doc = merged?.doc ?? { version: '1.0', trustPolicies: [statement] };
  validate(doc, blob, 'the new statement');
  await writeFileAtomic(path, `${JSON.stringify(doc, null, 2)}\n`);
  return { path, action: !merged ? 'wrote' : merged.replaced ? 'replaced' : 'added' };
}

/** `signet policy import`: validates a policy document and makes it the active one. */
export async function importTrustPolicy(
  file: string,
  options: { blob?: boolean; replace?: boolean; path?: string } = {}
): Promise<string> {
  const blob = Boolean(options.blob);
  const text = (await readFileBounded(file, MAX_CONFIG_FILE_SIZE, `trust policy ${file}`)).toString('utf8');
  validate(text, blob, file);
  const path = options.path ?? trustPolicyPath(blob);
  if (existsSync(path) && !options.replace) throw new SignetError('USAGE', `${path} exists (replace it explicitly)`);
  await writeFileAtomic(path, text);
  return path;
}

/** `signet policy show`: the active policy's text, validated. */
export async function readTrustPolicyText(
  options: { blob?: boolean; path?: string } = {}
): Promise<{ path: string; text: string }> {
  const blob = Boolean(options.blob);
  const path = options.path ?? trustPolicyPath(blob);
  const doc = await readPolicyFile(path, blob);
  if (!doc)
    throw new SignetError(
      'POLICY_NOT_FOUND',
      `no trust policy at ${path} (signet policy init or signet policy import)`
    );
  return { path, text: (await readFileBounded(path, MAX_CONFIG_FILE_SIZE, `trust policy ${path}`)).toString('utf8') };
}
