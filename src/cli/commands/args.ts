import { Option, type Command } from 'commander';
import { SignetError, parseDuration as parseDurationMs, type OpenOptions } from '../../index.ts';

/** `--plain-http` and `--insecure`, as every command that reaches a registry parses them. */
export interface RegistryFlags {
  plainHttp?: boolean;
  insecure?: boolean;
}

/**
 * Adds `--plain-http` and `--insecure` to a command that reaches a registry (the same two flags,
 * worded once, everywhere); {@link registryOpenOptions} turns them into the library's options.
 */
export function registryFlags(cmd: Command): Command {
  return cmd
    .addOption(
      new Option(
        '--plain-http',
        'speak HTTP, not HTTPS, to the registry (loopback names such as 127.0.0.1:5000 use HTTP unless SIGNET_PLAIN_HTTP=0)'
      )
    )
    .addOption(
      new Option(
        '--insecure',
        "HTTPS without verifying the registry's certificate: for test registries only (self-signed certificates)"
      ).conflicts('plainHttp')
    );
}

/** The open options `--plain-http` / `--insecure` ask for (nothing when neither is given). */
export function registryOpenOptions(flags: RegistryFlags): Pick<OpenOptions, 'plainHttp' | 'insecure'> {
  return flags.plainHttp ? { plainHttp: true } : flags.insecure ? { insecure: true } : {};
}

/** Reads a secret from standard input (one line). */
export async function readSecret(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

/** Parses repeated `k=v` options. */
export function keyValues(list: string[], what: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of list) {
    const i = kv.indexOf('=');
    if (i <= 0) throw new SignetError('USAGE', `${what} takes key=value, got ${JSON.stringify(kv)}`);
    out[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return out;
}

export const collect = (v: string, prev: string[]): string[] => [...prev, v];

/** A duration flag in whole seconds (`90d`, `12h`, `30m`, `45s`, or plain seconds); must be positive. */
export function parseDuration(s: string): number {
  const seconds = Math.floor(parseDurationMs(s) / 1000);
  if (seconds <= 0)
    throw new SignetError('USAGE', `invalid duration ${JSON.stringify(s)}: want e.g. 30d, 12h, 45m, 90s`);
  return seconds;
}
