import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE_NAME = 'signet';

/**
 * The version in Signet's own package.json, found by walking up from this module's file: the
 * same answer from src/ (tsx), from dist/ after a build and from an installed package. Other
 * package.json files on the way (a workspace, a consumer's project) are passed over by name.
 */
export function readPackageVersion(from: string = fileURLToPath(import.meta.url)): string {
  let dir = dirname(from);
  for (;;) {
    let text: string | undefined;
    try {
      text = readFileSync(join(dir, 'package.json'), 'utf8');
    } catch {
      text = undefined; // none here: keep walking up
    }
    if (text !== undefined) {
      let pkg: { name?: unknown; version?: unknown } | undefined;
      try {
        pkg = JSON.parse(text) as { name?: unknown; version?: unknown };
      } catch {
        pkg = undefined; // not ours if it does not parse
      }
      if (pkg?.name === PACKAGE_NAME && typeof pkg.version === 'string' && pkg.version) return pkg.version;
    }
    const parent = dirname(dir);
    if (parent === dir) return '0.0.0-unknown';
    dir = parent;
  }
}

/** Signet's version (package.json `version`); `0.0.0-unknown` if its package.json cannot be found. */
export const SIGNET_VERSION: string = readPackageVersion();
