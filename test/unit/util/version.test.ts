import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import ts from 'typescript';
import { readPackageVersion, SIGNET_VERSION } from '../../../src/util/index.ts';
import { buildProgram } from '../../../src/cli/main.ts';
import { JWS_MEDIA_TYPE, SIGNING_AGENT, signEnvelope, buildSimplePayload } from '../../../src/signature/index.ts';
import { makeChain } from '../../helpers/pki.ts';

const ROOT = join(import.meta.dirname, '../../..');
let work: string;
let pkgVersion: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'signet-version-'));
  pkgVersion = (JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('SIGNET_VERSION', () => {
  it("is package.json's version, and every place that reports a version uses it", async () => {
    expect(SIGNET_VERSION).toBe(pkgVersion);
    expect(buildProgram().version()).toBe(pkgVersion);
    expect(SIGNING_AGENT).toBe(`signet/${pkgVersion}`);
    const simple = buildSimplePayload('example.com/app', `sha256:${'a'.repeat(64)}`);
    const payload = JSON.parse(Buffer.from(simple).toString());
    expect(payload.optional.creator).toBe(`signet ${pkgVersion}`);
    const { signer } = await makeChain();
    const target = { mediaType: 'application/octet-stream', digest: `sha256:${'b'.repeat(64)}`, size: 1 };
    const jws = JSON.parse(Buffer.from(await signEnvelope({ target, signer }, JWS_MEDIA_TYPE)).toString());
    expect(jws.header['io.cncf.notary.signingAgent']).toBe(`signet/${pkgVersion}`);
  });

  it('walks up past package.json files of other packages to the one named signet', async () => {
    const pkg = join(work, 'walk');
    const deep = join(pkg, 'node_modules', 'other', 'lib', 'x');
    await mkdir(deep, { recursive: true });
    await writeFile(join(pkg, 'package.json'), JSON.stringify({ name: 'signet', version: '7.6.5' }));
    const other = JSON.stringify({ name: 'other', version: '1.0.0' });
    await writeFile(join(pkg, 'node_modules', 'other', 'package.json'), other);
    await writeFile(join(pkg, 'node_modules', 'other', 'lib', 'package.json'), '{ not json');
    expect(readPackageVersion(join(deep, 'version.js'))).toBe('7.6.5');
    const lone = join(work, 'lone', 'a');
    await mkdir(lone, { recursive: true });
    await writeFile(join(work, 'lone', 'package.json'), JSON.stringify({ name: 'not-signet', version: '1.2.3' }));
    // the temp tree has no signet package.json above it (tmpdir is outside the repository)
    expect(readPackageVersion(join(lone, 'version.js'))).toBe('0.0.0-unknown');
  });

  it('works from a compiled dist/ layout, reading the package.json two levels up', async () => {
    const pkg = join(work, 'built');
    await mkdir(join(pkg, 'dist', 'util'), { recursive: true });
    const manifest = JSON.stringify({ name: 'signet', version: '3.2.1-rc.1', type: 'module' });
    await writeFile(join(pkg, 'package.json'), manifest);
    const source = await readFile(join(ROOT, 'src', 'util', 'version.ts'), 'utf8');
    const compilerOptions = { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 };
    const js = ts.transpileModule(source, { compilerOptions }).outputText;
    await writeFile(join(pkg, 'dist', 'util', 'version.js'), js);
    const script = `import('./dist/util/version.js').then((m) => process.stdout.write(m.SIGNET_VERSION))`;
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { cwd: pkg });
    expect(stdout).toBe('3.2.1-rc.1');
  });
});
