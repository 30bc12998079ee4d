import type { Command } from 'commander';
import { registerArtifact } from './artifact.ts';
import { registerCopy } from './copy.ts';
import { registerDiscover } from './discover.ts';
import { registerLogin } from './login.ts';
import { registerServe } from './serve.ts';

/**
 * Every command registers itself here; each lives in its own file under commands/ and is a thin
 * shell over a library call plus formatting.
 */
export function registerCommands(program: Command): void {
  registerServe(program);
  registerArtifact(program);
  registerCopy(program);
  registerDiscover(program);
  registerLogin(program);
}
