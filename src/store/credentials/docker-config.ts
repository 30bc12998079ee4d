import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { MAX_CONFIG_FILE_SIZE, readFileBounded, SignetError, writeFileAtomic } from '../../util/index.ts';

/** Credentials for one registry. */
export interface Credentials {
  username: string;
  password: string;
}

/** Finds credentials for a registry host (`host[:port]`), or undefined for anonymous access. */
export type CredentialProvider = (registry: string) => Promise<Credentials | undefined>;

export interface DockerConfigOptions {
  /** Path of config.json; default `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`. */
  configPath?: string;
}

interface DockerConfig {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
  [k: string]: unknown;
}

export function dockerConfigPath(options: DockerConfigOptions = {}): string {
  if (options.configPath) return options.configPath;
  const dir = process.env.DOCKER_CONFIG || join(homedir(), '.docker');
  return join(dir, 'config.json');
}

async function readConfig(path: string): Promise<DockerConfig> {
  let text: string;
  try {
    text = (await readFileBounded(path, MAX_CONFIG_FILE_SIZE)).toString('utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new SignetError('CONFIG_UNREADABLE', `cannot read ${path}: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new SignetError('STATE_CORRUPT', `${path} is not valid JSON: ${(err as Error).message}`);
  }
  const isObject = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObject(json)) throw new SignetError('STATE_CORRUPT', `${path} is not a JSON object`);
  const config = json as DockerConfig;
  if (config.auths !== undefined && !isObject(config.auths))
    throw new SignetError('STATE_CORRUPT', `${path}: auths must be an object`);
  if (config.credHelpers !== undefined && !isObject(config.credHelpers))
    throw new SignetError('STATE_CORRUPT', `${path}: credHelpers must be an object`);
  if (config.credsStore !== undefined && typeof config.credsStore !== 'string')
    throw new SignetError('STATE_CORRUPT', `${path}: credsStore must be a string`);
  return config;
}

/** The keys config.json may use for a registry (Docker Hub has its historical URL). */
function keysFor(registry: string): string[] {
  if (registry === 'docker.io')
    return ['https://index.docker.io/v1/', 'index.docker.io', 'docker.io', 'registry-1.docker.io'];
  return [registry, `https://${registry}`, `http://${registry}`, `https://${registry}/v1/`];
}

/** The most a credential helper may print (stdout and stderr together): an answer is a few hundred bytes. */
export const MAX_CREDENTIAL_HELPER_OUTPUT = 1024 * 1024;

/**
 * Runs `docker-credential-<helper> get` (JSON over stdin/stdout, the docker credential helper
 * protocol). The helper is another program: one that exits without reading its stdin (EPIPE),
 * prints without end or never exits is a CREDENTIAL_HELPER_FAILED error, never a crash.
 */
export async function runCredentialHelper(helper: string, registry: string): Promise<Credentials | undefined> {
  const bin = `docker-credential-${helper}`;
  const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(bin, ['get'], { stdio: ['pipe', 'pipe', 'pipe'], timeout: 30_000 });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let size = 0;
    let failed: SignetError | undefined;
    const fail = (err: SignetError): void => {
      failed ??= err;
      child.kill('SIGKILL');
    };
    const take =
      (into: Buffer[]) =>
      (b: Buffer): void => {
        if (failed) return;
        size += b.length;
        if (size > MAX_CREDENTIAL_HELPER_OUTPUT)
          fail(
            new SignetError(
              'CREDENTIAL_HELPER_FAILED',
              `credential helper ${bin} printed more than ${MAX_CREDENTIAL_HELPER_OUTPUT} bytes`
            )
          );
        else into.push(b);
      };
    child.stdout.on('data', take(stdout));
    child.stderr.on('data', take(stderr));
    // A helper that exits without reading makes the write fail (EPIPE): its exit status decides.
    child.stdin.on('error', () => {});
    child.on('error', (err) =>
      reject(new SignetError('CREDENTIAL_HELPER_FAILED', `credential helper ${bin} could not run: ${err.message}`))
    );
    child.on('close', (code, signal) => {
      if (failed) return reject(failed);
      if (signal && code === null)
        return reject(new SignetError('CREDENTIAL_HELPER_FAILED', `credential helper ${bin} was killed (${signal})`));
      resolve({ code, stdout: Buffer.concat(stdout).toString('utf8'), stderr: Buffer.concat(stderr).toString('utf8') });
    });
    child.stdin.end(registry);
  });
  if (out.code !== 0) {
    if (/credentials not found/i.test(out.stdout + out.stderr)) return undefined;
    throw new SignetError(
      'CREDENTIAL_HELPER_FAILED',
      `credential helper ${bin} failed: ${(out.stderr || out.stdout).trim().slice(0, 300)}`
    );
  }
  try {
    const j = JSON.parse(out.stdout) as unknown;
    if (typeof j !== 'object' || j === null || Array.isArray(j)) throw new Error('not an object');
    const { Username, Secret } = j as { Username?: unknown; Secret?: unknown };
    if (Secret === undefined || Secret === null || Secret === '') return undefined;
    if (typeof Secret !== 'string' || (Username !== undefined && typeof Username !== 'string'))
      throw new Error('Username and Secret must be strings');
    return { username: Username ?? '', password: Secret };
  } catch {
    throw new SignetError('CREDENTIAL_HELPER_FAILED', `credential helper ${bin} printed no JSON`);
  }
}

/** Credentials from docker's config.json: `credHelpers`, then `auths`, then `credsStore`. */
export function dockerCredentials(options: DockerConfigOptions = {}): CredentialProvider {
  return async (registry) => {
    const config = await readConfig(dockerConfigPath(options));
    const keys = keysFor(registry);
    const helper = keys.map((k) => config.credHelpers?.[k]).find((h) => typeof h === 'string' && h !== '');
    if (helper) return runCredentialHelper(helper, registry);
    for (const k of keys) {
      const a = config.auths?.[k];
      if (typeof a !== 'object' || a === null) continue;
      if (typeof a.username === 'string' && typeof a.password === 'string' && a.username && a.password)
        return { username: a.username, password: a.password };
      if (typeof a.auth === 'string' && a.auth) {
        const decoded = Buffer.from(a.auth, 'base64').toString('utf8');
        const i = decoded.indexOf(':');
        if (i > 0) return { username: decoded.slice(0, i), password: decoded.slice(i + 1) };
      }
    }
    if (config.credsStore) return runCredentialHelper(config.credsStore, registry);
    return undefined;
  };
}

/** Static credentials (tests, `--username/--password`). */
export function staticCredentials(creds: Credentials | undefined): CredentialProvider {
  return async () => creds;
}

/** Writes (or, with `undefined`, removes) a registry's `auths` entry in config.json, mode 0600, atomically. */
export async function storeDockerCredentials(
  registry: string,
  creds: Credentials | undefined,
  options: DockerConfigOptions = {}
): Promise<boolean> {
  const path = dockerConfigPath(options);
  const config = await readConfig(path);
  config.auths ??= {};
  const key = registry === 'docker.io' ? 'https://index.docker.io/v1/' : registry;
  let changed = false;
  if (creds) {
    config.auths[key] = { auth: Buffer.from(`${creds.username}:${creds.password}`).toString('base64') };
    changed = true;
  } else {
    for (const k of keysFor(registry)) {
      if (config.auths[k]) {
        delete config.auths[k];
        changed = true;
      }
    }
  }
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFileAtomic(path, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  return changed;
}
