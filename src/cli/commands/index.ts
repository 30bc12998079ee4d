import type { Command } from 'commander';
import { registerArtifact } from './artifact.ts';
import { registerCopy } from './copy.ts';
import { registerDiscover } from './discover.ts';
import { registerInspect } from './inspect.ts';
import { registerKey } from './key.ts';
import { registerLogin } from './login.ts';
import { registerPlugin } from './plugin.ts';
import { registerServe } from './serve.ts';
import { registerServeGc } from './serve-gc.ts';
import { registerSign } from './sign.ts';
import { registerTrust } from './trust.ts';
import { registerTuf } from './tuf.ts';
import { registerVerify } from './verify.ts';

type Register = (program: Command) => void;

/**
 * Each file under commands/ registers its top-level commands (with their aliases, listed here):
 * a thin shell over a library call plus formatting. A command's action loads the library code it
 * uses on first call (`src/index.ts` imports each implementation lazily), so registering costs
 * only commander's option objects.
 */
const REGISTRARS: ReadonlyArray<readonly [Register, readonly string[]]> = [
  [registerSign, ['sign']],
  [registerVerify, ['verify']],
  [registerInspect, ['ls', 'list', 'inspect', 'blob']],
  [registerKey, ['key']],
  [registerTrust, ['cert', 'policy']],
  [(program) => registerServeGc(registerServe(program)), ['serve', 'fsck']],
  [registerArtifact, ['push', 'pull']],
  [registerCopy, ['copy', 'cp']],
  [registerDiscover, ['discover']],
  [registerLogin, ['login', 'logout']],
  [registerPlugin, ['plugin']],
  [registerTuf, ['tuf']],
];

/**
 * Registers every command, or with `only` (the command a process was started for) just the file
 * that defines it: a cold `signet verify` then builds one command's options, not all of them. A
 * name no file claims (`help`, a typo) registers everything, so help and errors read as usual.
 */
export function registerCommands(program: Command, only?: string): void {
  const one = only === undefined ? undefined : REGISTRARS.find(([, names]) => names.includes(only));
  for (const entry of one ? [one] : REGISTRARS) entry[0](program);
}
