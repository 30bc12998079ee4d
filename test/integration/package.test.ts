import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../helpers/serve.ts';

const run = promisify(execFile);
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const TIMEOUT = 240_000;

// What a consumer does with the installed package: the embedded registry, a pushed artifact, a
// key pair from the key store, a signature, and verification under a trust policy (and one that
// trusts another identity, which must fail).
const CONSUMER_SCRIPT = `
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { copy, loadTrustPolicy, openTrustStore, push, sign, startRegistry, verify } from 'signet';
import { KeyStore } from 'signet/pki';
import { parseReference } from 'signet/oci';

const home = process.env.SIGNET_HOME;
const work = await mkdtemp(join(tmpdir(), 'signet-consumer-'));
const reg = await startRegistry({ addr: '127.0.0.1:0', root: join(work, 'registry') });
try {
  const ref = reg.host + '/consumer/app:v1';
  if (parseReference(ref).repository !== 'consumer/app') throw new Error('signet/oci parseReference');
  await writeFile(join(work, 'app.txt'), 'hello from a consumer\\n');
  const pushed = await push(ref, [join(work, 'app.txt')], { artifactType: 'application/vnd.example.consumer' });

  const keys = new KeyStore(home);
  await keys.generate('root', { type: 'ecdsa-p256', ca: true, subject: 'CN=Consumer Root,O=Example,ST=WA,C=US' });
  const release = await keys.generate('release',
    { type: 'ecdsa-p256', issuer: 'root', subject: 'CN=release,O=Example,ST=WA,C=US' });
  const rootPem = join(work, 'root.pem');
  await writeFile(rootPem, release.chain.at(-1).toString());
  const trustStore = join(work, 'truststore');
  await (await openTrustStore(trustStore)).add('ca', 'consumer', [rootPem]);
  const policy = (identity) => loadTrustPolicy({ version: '1.0', trustPolicies: [{ name: 'consumer',
    registryScopes: ['*'], signatureVerification: { level: 'strict' }, trustStores: ['ca:consumer'],
    trustedIdentities: [identity] }] });
  const [signed] = await sign(ref, { key: 'release', keyStore: keys });
  const trusted = await policy('x509.subject: CN=release,O=Example,ST=WA,C=US');
  const good = await verify(ref, { sources: { trustPolicy: trusted, trustStore } });
  const untrusted = await policy('x509.subject: CN=someone else,O=Example,ST=WA,C=US');
  const other = await verify(ref, { sources: { trustPolicy: untrusted, trustStore } });
  const copied = await copy(ref, 'oci:' + join(work, 'airgap.tar') + ':v1');
  console.log(JSON.stringify({ pushed: pushed.digest, signed: signed.subject.digest, signature: signed.signature.digest,
    verdict: good.verdict, verifiedDigest: good.digest, otherIdentity: other.verdict, copied: copied.root.digest,
    copiedReferrers: copied.referrers }));
} finally {
  await reg.close();
}
`;

// Type-checked, never run: the public types must resolve through the .d.ts files alone.
const CONSUMER_TS = `
import { copy, exitCodeFor, SignetError, sign, verify, type SignResult, type VerificationReport } from 'signet';
import { parseReference, type Reference } from 'signet/oci';
import { startRegistry, type RunningRegistry } from 'signet/server';

export async function check(ref: string): Promise<number> {
  const parsed: Reference = parseReference(ref);
  const reg: RunningRegistry = await startRegistry({ addr: '127.0.0.1:0', root: '/tmp/x' });
  const signed: SignResult[] = await sign(ref, { signatureFormat: 'cose' });
  const v: VerificationReport = await verify(ref);
  const copied: number = (await copy(ref, 'oci:/tmp/layout:v1')).copied;
  await reg.close();
  const digest: string = signed[0]!.signature.digest;
  const ok = v.verdict === 'verified' && parsed.kind === 'registry' && digest && copied >= 0;
  return ok ? 0 : exitCodeFor(new SignetError('VERIFICATION_FAILED', 'y'));
}
`;

describe('the npm package', () => {
  let work: string;
  let consumer: string;
  let tarball: string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'signet-package-'));
    // Pack a copy of the working tree (never the checkout itself: its dist/ is left alone), the
    // way a clone is packed: `npm pack` must build dist/ through the package's own scripts.
    const clone = join(work, 'clone');
    await mkdir(clone);
    for (const f of ['package.json', 'tsconfig.json', 'tsconfig.build.json', 'README.md', 'src', 'bin', 'docs']) {
      await cp(join(REPO_ROOT, f), join(clone, f), { recursive: true });
    }
    await symlink(join(REPO_ROOT, 'node_modules'), join(clone, 'node_modules'), 'dir');
    const packDir = join(work, 'pack');
    await mkdir(packDir);
    await run(npm, ['pack', '--pack-destination', packDir], { cwd: clone, maxBuffer: 64 << 20 });
    const [name] = (await readdir(packDir)).filter((f) => f.endsWith('.tgz'));
    tarball = join(packDir, name!);
    consumer = join(work, 'consumer');
    await mkdir(consumer);
    const manifest = { name: 'consumer', version: '1.0.0', private: true, type: 'module' };
    await writeFile(join(consumer, 'package.json'), JSON.stringify(manifest));
    await run(npm, ['install', tarball, '--no-audit', '--no-fund'], { cwd: consumer, maxBuffer: 64 << 20 });
  }, TIMEOUT);

  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('ships the compiled library and the CLI, not the sources', async () => {
    const pkg = join(consumer, 'node_modules', 'signet');
    expect(existsSync(join(pkg, 'dist', 'index.js'))).toBe(true);
    expect(existsSync(join(pkg, 'dist', 'index.d.ts'))).toBe(true);
    expect(existsSync(join(pkg, 'dist', 'cli', 'main.js'))).toBe(true);
    expect(existsSync(join(pkg, 'src'))).toBe(false);
    // the installed CLI cannot lean on tsx: the consumer does not have it
    expect(existsSync(join(consumer, 'node_modules', 'tsx'))).toBe(false);
  });

  it(
    'signs and verifies from `import ... from "signet"`',
    async () => {
      await writeFile(join(consumer, 'use.mjs'), CONSUMER_SCRIPT);
      const home = join(work, 'home');
      await mkdir(home);
      const env = { ...process.env, SIGNET_HOME: home };
      const { stdout } = await run(process.execPath, ['use.mjs'], { cwd: consumer, env });
      const out = JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
      expect(out.pushed).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(out.signed).toBe(out.pushed);
      expect(out.signature).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(out.signature).not.toBe(out.pushed);
      expect(out.verdict).toBe('verified');
      expect(out.verifiedDigest).toBe(out.pushed);
      expect(out.otherIdentity).toBe('failed');
      expect(out.copied).toBe(out.pushed);
      expect(out.copiedReferrers).toBe(1);
    },
    TIMEOUT
  );

  it(
    'installs a working `signet` bin',
    async () => {
      const bin = join(consumer, 'node_modules', '.bin', 'signet');
      const pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
      const version = await run(bin, ['--version'], { cwd: consumer });
      expect(version.stdout.trim()).toBe(pkg.version);
      const home = join(work, 'bin-home');
      const env = { ...process.env, SIGNET_HOME: home };
      await run(bin, ['key', 'generate', 'ci', '--type', 'ecdsa-p384'], { cwd: consumer, env });
      const list = await run(bin, ['key', 'list', '-o', 'json'], { cwd: consumer, env });
      const keys = JSON.parse(list.stdout) as Array<{ name: string; keySpec: string }>;
      expect(keys.map((k) => [k.name, k.keySpec])).toEqual([['ci', 'EC-secp384r1']]);
    },
    TIMEOUT
  );

  it(
    'types resolve from the .d.ts files with @types/node installed as the peer dependency',
    async () => {
      // npm installs the (non-optional) peer dependency; the consumer's tsconfig names no types.
      expect(existsSync(join(consumer, 'node_modules', '@types', 'node', 'package.json'))).toBe(true);
      await writeFile(join(consumer, 'check.ts'), CONSUMER_TS);
      const tsconfig = {
        compilerOptions: {
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'es2022',
          strict: true,
          noEmit: true,
          types: [],
          skipLibCheck: false,
        },
        files: ['check.ts'],
      };
      await writeFile(join(consumer, 'tsconfig.json'), JSON.stringify(tsconfig));
      const tsc = join(REPO_ROOT, 'node_modules', '.bin', 'tsc');
      const r = await run(tsc, ['-p', '.'], { cwd: consumer }).then(
        (ok) => ({ code: 0, stdout: ok.stdout }),
        (err: { stdout?: string; code?: number }) => ({ code: err.code, stdout: err.stdout ?? String(err) })
      );
      expect(r.stdout).toBe('');
      expect(r.code).toBe(0);
    },
    TIMEOUT
  );
});
