import { spawn } from 'node:child_process';
import { lstat, readdir, access } from 'node:fs/promises';
import { constants } from 'node:fs';
import { join } from 'node:path';
import * as z from 'zod';
import { SignetError, signetHome } from '../util/index.ts';

/** Error codes of the Notary Project plugin contract 1.0. */
export type PluginErrorCode =
  'VALIDATION_ERROR' | 'UNSUPPORTED_CONTRACT_VERSION' | 'ACCESS_DENIED' | 'TIMEOUT' | 'THROTTLED' | 'ERROR';
const CODES = new Set<string>([
  'VALIDATION_ERROR',
  'UNSUPPORTED_CONTRACT_VERSION',
  'ACCESS_DENIED',
  'TIMEOUT',
  'THROTTLED',
  'ERROR',
]);
export const CONTRACT_VERSION = '1.0';
const MAX_OUTPUT = 64 * 1024 * 1024;

export class PluginError extends SignetError {
  readonly pluginCode: PluginErrorCode;
  constructor(plugin: string, pluginCode: PluginErrorCode, message: string, detail?: unknown) {
    // Plugin trouble never makes a signature pass or fail on its own: it is inconclusive (exit 3).
    super(`PLUGIN_${pluginCode}`, `plugin ${plugin}: ${pluginCode}: ${message}`, { detail });
    this.name = 'PluginError';
    this.pluginCode = pluginCode;
  }
}

export interface PluginMetadata {
  name: string;
  description?: string;
  version: string;
  url?: string;
  supportedContractVersions: string[];
  capabilities: string[];
}

/** The metadata every plugin must answer to get-plugin-metadata (unknown fields are ignored). */
const MetadataSchema = z.object({
  name: z.string(),
  description: z.string().optional(),
  version: z.string(),
  url: z.string().optional(),
  supportedContractVersions: z.array(z.string()),
  capabilities: z.array(z.string()),
});

export function pluginsDir(home = signetHome()): string {
  return join(home, 'plugins');
}

/**
 * A plugin name is one path segment: letters, digits, `.`, `_` and `-`, starting with a letter or
 * digit (so never `.`, `..` or an option), at most 128 characters. Checked before the name is ever
 * joined into a path.
 */
export function isValidPluginName(name: unknown): name is string {
  return typeof name === 'string' && name.length <= 128 && /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name);
}

/** Throws a USAGE error unless `name` is a valid plugin name. */
export function assertPluginName(name: unknown): asserts name is string {
  if (!isValidPluginName(name))
    throw new SignetError(
      'USAGE',
      `invalid plugin name ${JSON.stringify(name)} (letters, digits, '.', '_' and '-', starting with a letter or digit)`
    );
}

/** `$SIGNET_HOME/plugins/<name>/notation-<name>`: a regular executable file, never a link. */
export async function pluginPath(name: string, home = signetHome()): Promise<string> {
  assertPluginName(name);
  const path = join(pluginsDir(home), name, `notation-${name}`);
  let st;
  try {
    st = await lstat(path);
  } catch {
    throw new SignetError('PLUGIN_NOT_FOUND', `plugin ${name} is not installed (${path}); see signet plugin install`);
  }
  if (!st.isFile())
    throw new SignetError('PLUGIN_INVALID', `${path} is not a regular file (symbolic links are refused)`);
  try {
    await access(path, constants.X_OK);
  } catch {
    throw new SignetError('PLUGIN_INVALID', `${path} is not executable`);
  }
  return path;
}

/** Names of the installed plugins (directories holding a `notation-<name>` executable). */
export async function listPluginNames(home = signetHome()): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(pluginsDir(home), { withFileTypes: true }).catch(() => [])) {
    if (!e.isDirectory()) continue;
    try {
      await pluginPath(e.name, home);
      out.push(e.name);
    } catch {
      // not a plugin directory
    }
  }
  return out.sort();
}

/**
 * Runs one plugin command: request JSON on stdin, response JSON on stdout (exit 0), or an
 * error JSON on stderr (exit non-zero). Output is bounded; a plugin that hangs is killed.
 */
export class PluginClient {
  constructor(
    readonly name: string,
    readonly path: string,
    private readonly timeoutMs = 30_000
  ) {}

  static async open(name: string, options: { home?: string; timeoutMs?: number } = {}): Promise<PluginClient> {
    return new PluginClient(name, await pluginPath(name, options.home), options.timeoutMs);
  }

  /**
   * Runs `command` and validates its JSON answer with `schema`: a plugin's answer is input like
   * any other, so `null` or a wrongly shaped object is a VALIDATION_ERROR, never a TypeError.
   */
  async run<T>(command: string, request: unknown, schema: z.ZodType<T>): Promise<T> {
    const { code, stdout, stderr, timedOut } = await new Promise<{
      code: number | null;
      stdout: string;
      stderr: string;
      timedOut: boolean;
    }>((resolve, reject) => {
      const child = spawn(this.path, [command], { stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      let size = 0;
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, this.timeoutMs);
      const take = (b: Buffer, into: 'out' | 'err'): void => {
        size += b.length;
        if (size > MAX_OUTPUT) child.kill('SIGKILL');
        else if (into === 'out') out += b.toString();
        else err += b.toString();
      };
      child.stdout.on('data', (b: Buffer) => take(b, 'out'));
      child.stderr.on('data', (b: Buffer) => take(b, 'err'));
      child.on('error', (e) => {
        clearTimeout(timer);
        reject(new PluginError(this.name, 'ERROR', `cannot run ${this.path}: ${e.message}`));
      });
      child.on('close', (c) => {
        clearTimeout(timer);
        resolve({ code: c, stdout: out, stderr: err, timedOut });
      });
      child.stdin.on('error', () => {});
      child.stdin.end(JSON.stringify(request));
    });
    if (timedOut) throw new PluginError(this.name, 'TIMEOUT', `${command} did not answer within ${this.timeoutMs} ms`);
    if (code !== 0) {
      let e: { errorCode?: string; errorMessage?: string; errorMetadata?: unknown } = {};
      try {
        e = JSON.parse(stderr) as typeof e;
      } catch {
        e = { errorMessage: stderr.trim().slice(0, 500) || `exit code ${code}` };
      }
      const c = (e.errorCode && CODES.has(e.errorCode) ? e.errorCode : 'ERROR') as PluginErrorCode;
      throw new PluginError(this.name, c, `${command} failed: ${e.errorMessage ?? 'no message'}`, e.errorMetadata);
    }
    let json: unknown;
    try {
      json = JSON.parse(stdout);
    } catch {
      throw new PluginError(this.name, 'ERROR', `${command} printed no valid JSON`);
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue?.path.length ? ` at ${issue.path.join('.')}` : '';
      throw new PluginError(
        this.name,
        'VALIDATION_ERROR',
        `${command} answered with a malformed response${where}: ${issue?.message ?? 'invalid'}`
      );
    }
    return parsed.data;
  }

  /** get-plugin-metadata; the metadata name must be the plugin's name, and contract 1.0 supported. */
  async metadata(pluginConfig?: Record<string, string>): Promise<PluginMetadata> {
    const m: PluginMetadata = await this.run(
      'get-plugin-metadata',
      pluginConfig ? { pluginConfig } : {},
      MetadataSchema
    );
    if (m.name !== this.name)
      throw new PluginError(
        this.name,
        'VALIDATION_ERROR',
        `get-plugin-metadata names the plugin ${JSON.stringify(m.name)}, not ${this.name}`
      );
    if (!m.supportedContractVersions.includes(CONTRACT_VERSION)) {
      throw new PluginError(
        this.name,
        'UNSUPPORTED_CONTRACT_VERSION',
        `the plugin does not support contract ${CONTRACT_VERSION}`
      );
    }
    return m;
  }
}
