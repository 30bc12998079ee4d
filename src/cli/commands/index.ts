import type { Command } from 'commander';
import { registerServe } from './serve.ts';

/**
 * Every command registers itself here; each lives in its own file under commands/ and is a thin
 * shell over a library call plus formatting.
 */
export function registerCommands(program: Command): void {
  registerServe(program);
}
