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

/**
 * Every command registers itself here; each lives in its own file under commands/ and is a thin
 * shell over a library call plus formatting.
 */
export function registerCommands(program: Command): void {
  registerSign(program);
  registerVerify(program);
  registerInspect(program);
  registerKey(program);
  registerTrust(program);
  registerServeGc(registerServe(program));
  registerArtifact(program);
  registerCopy(program);
  registerDiscover(program);
  registerLogin(program);
  registerPlugin(program);
  registerTuf(program);
}
