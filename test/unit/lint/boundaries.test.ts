import { describe, expect, it } from 'vitest';
import { ESLint } from 'eslint';
import { join } from 'node:path';

// The module rules of docs/architecture.md bite: a probe file (linted as if it lived at the given
// path, nothing written) that imports across a forbidden boundary fails lint; the same probe
// importing what its folder may import passes.
const ROOT = join(import.meta.dirname, '../../..');
const eslint = new ESLint({ cwd: ROOT });

async function problems(path: string, code: string): Promise<string[]> {
  const [r] = await eslint.lintText(code, { filePath: join(ROOT, path) });
  return r!.messages.map((m) => `${m.ruleId}: ${m.message}`);
}

describe('architecture boundaries are lint rules', () => {
  it.each([
    [
      'a nested server file reaching trust internals',
      'src/server/auth/probe.ts',
      "import { loadTrustPolicy } from '../../trust/policy.ts';\nexport const x = loadTrustPolicy;",
      /src\/server\/ may import only verify, signature, store, oci, util/,
    ],
    [
      'a server file importing trust through its index',
      'src/server/probe.ts',
      "export { TrustStore } from '../trust/index.ts';",
      /src\/server\/ may import only/,
    ],
    [
      'storage importing trust',
      'src/store/registry/probe.ts',
      "import type { TrustStore } from '../../trust/index.ts';\nexport type X = TrustStore;",
      /src\/store\/ may import only oci, util/,
    ],
    [
      'a folder reached past its index.ts',
      'src/verify/probe.ts',
      "import { parseEnvelope } from '../signature/notary/envelope.ts';\nexport const x = parseEnvelope;",
      /import src\/signature\/ only through its index\.ts/,
    ],
    [
      'oci importing pki (a leaf importing a domain)',
      'src/oci/probe.ts',
      "export { KeyStore } from '../pki/index.ts';",
      /src\/oci\/ may import only util/,
    ],
    [
      'the CLI reaching into the library',
      'src/cli/commands/probe.ts',
      "export const m = () => import('../../pki/index.ts');",
      /src\/cli\/ imports only the public API/,
    ],
    [
      'a library folder importing the public API',
      'src/copy/probe.ts',
      "export { sign } from '../index.ts';",
      /library folders do not import src\/index\.ts/,
    ],
  ])('%s fails lint', async (_what, path, code, message) => {
    const p = await problems(path, code);
    expect(
      p.some((m) => m.startsWith('import-x/no-restricted-paths') && message.test(m)),
      p.join('\n')
    ).toBe(true);
  });

  it.each([
    [
      'the server through verify/ and store/',
      'src/server/auth/probe.ts',
      "export { verifyArtifact } from '../../verify/index.ts';\nexport { openTarget } from '../../store/index.ts';",
    ],
    [
      'verify through the indexes it may use',
      'src/verify/probe.ts',
      "export { parseEnvelope } from '../signature/index.ts';\nexport { TrustStore } from '../trust/index.ts';",
    ],
    [
      'the CLI through the public API',
      'src/cli/commands/probe.ts',
      "export { verify } from '../../index.ts';\nexport { printJson } from '../output.ts';",
    ],
  ])('%s lints clean (the control)', async (_what, path, code) => {
    expect(await problems(path, code)).toEqual([]);
  });
});
