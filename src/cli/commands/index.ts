import type { Command } from 'commander';

/**
 * Every command registers itself here; each lives in its own file under commands/ and is a thin
 * shell over a library call plus formatting.
 */
export function registerCommands(_program: Command): void {
  // commands are added by their modules below
}
