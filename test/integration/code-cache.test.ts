// The bundled CLI runs with V8's code cache (bin/code-cache.js): a cache is written on a command's
// first run and used on the next, a cache V8 refuses (damaged, another bundle) is written again, and
// a cache directory others can write to is never used. The output is the same in every case.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  chmod,
  cp,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  symlink,
  truncate,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, runSignet } from '../helpers/serve.ts';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const BUNDLE = join(REPO_ROOT, 'dist', 'cli-bundle', 'main.cjs');

describe('the CLI bundle with V8 code cache', () => {
  let work: string;
  let cacheHome: string;
  let cacheDir: string;
  const version = async (env: NodeJS.ProcessEnv = {}) => {
    const r = await runSignet(['--version'], { env: { SIGNET_USE_DIST: '1', XDG_CACHE_HOME: cacheHome, ...env } });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    return r.stdout.trim();
  };
  const cacheFiles = async () =>
    existsSync(cacheDir) ? (await readdir(cacheDir)).filter((f) => f.endsWith('.v8cache')) : [];

  beforeAll(async () => {
    // `npm test` builds dist/ first; a bare vitest run must too.
    expect(existsSync(BUNDLE), `${BUNDLE} is missing: run npm run build`).toBe(true);
    work = await mkdtemp(join(tmpdir(), 'signet-code-cache-'));
    cacheHome = join(work, 'cache');
    cacheDir = join(cacheHome, 'signet', 'code-cache');
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('writes a private cache on the first run of a command and uses it on the next', async () => {
    const pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(await version()).toBe(pkg.version);
    const [file] = await cacheFiles();
    expect(file).toMatch(
      new RegExp(`^${process.version}-${process.arch}-liftoff-[0-9a-f]{8}-\\d+-\\d+-other\\.v8cache$`)
    );
    expect((await stat(cacheDir)).mode & 0o777).toBe(0o700);
    const written = await stat(join(cacheDir, file!));
    expect(written.mode & 0o777).toBe(0o600);
    expect(written.size).toBeGreaterThan(1000);
    // Used, not written again: a cache V8 accepts is left as it is.
    expect(await version()).toBe(pkg.version);
    expect((await stat(join(cacheDir, file!))).mtimeMs).toBe(written.mtimeMs);
    expect(await cacheFiles()).toEqual([file]);
  });

  it('a damaged cache is refused by V8 and written again; the command still works', async () => {
    const [file] = await cacheFiles();
    const path = join(cacheDir, file!);
    const size = (await stat(path)).size;
    const junk = Buffer.alloc(size, 0x5a);
    await writeFile(path, junk);
    expect(await version()).toMatch(/^\d+\.\d+\.\d+/);
    const again = await readFile(path);
    expect(again.equals(junk)).toBe(false);
    expect(again.length).toBeGreaterThan(1000);
  });

  it('another install of the CLI keeps its own cache beside this one', async () => {
    const [mine] = await cacheFiles();
    const before = (await stat(join(cacheDir, mine!))).mtimeMs;
    // A second install: the same bundle at another path (bin/, dist/cli-bundle/, its packages).
    const other = join(work, 'other');
    await mkdir(join(other, 'dist', 'cli-bundle'), { recursive: true });
    await cp(join(REPO_ROOT, 'bin'), join(other, 'bin'), { recursive: true });
    await cp(BUNDLE, join(other, 'dist', 'cli-bundle', 'main.cjs'));
    await cp(join(REPO_ROOT, 'package.json'), join(other, 'package.json'));
    await symlink(join(REPO_ROOT, 'node_modules'), join(other, 'node_modules'), 'dir');
    const env = { ...process.env, XDG_CACHE_HOME: cacheHome };
    for (let i = 0; i < 2; i++) {
      const r = await promisify(execFile)(process.execPath, [join(other, 'bin', 'signet.js'), '--version'], { env });
      expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
      expect(await version()).toMatch(/^\d+\.\d+\.\d+/);
    }
    const files = await cacheFiles();
    expect(files).toHaveLength(2);
    expect(files).toContain(mine);
    // Neither run replaced the other's cache: this install's file is the one it wrote first.
    expect((await stat(join(cacheDir, mine!))).mtimeMs).toBe(before);
  });

  it('a cache used is marked used, and the directory keeps under its bound by dropping the least recently used', async () => {
    await rm(cacheDir, { recursive: true, force: true });
    await version(); // this install's cache, alone
    const [mine] = await cacheFiles();
    const path = join(cacheDir, mine!);
    const twoDaysAgo = Date.now() / 1000 - 2 * 86400;
    await utimes(path, twoDaysAgo, twoDaysAgo);
    expect(await version()).toMatch(/^\d+\.\d+\.\d+/);
    expect((await stat(path)).mtimeMs).toBeGreaterThan(Date.now() - 60_000); // touched: used today
    // Caches other installs left (40 MiB each, sparse), used 3, 2 and 1 days ago: 120 MiB in all.
    const left = ['a', 'b', 'c'].map((tag) =>
      join(cacheDir, `${process.version}-${process.arch}-liftoff-${tag.repeat(8)}-1-1-verify.v8cache`)
    );
    for (const [i, f] of left.entries()) {
      await writeFile(f, '');
      await truncate(f, 40 * 1024 * 1024);
      const when = Date.now() / 1000 - (3 - i) * 86400;
      await utimes(f, when, when);
    }
    // A command without a cache yet writes one, and makes room: the oldest goes, the others stay.
    const r = await runSignet(['key', 'list'], {
      env: { SIGNET_USE_DIST: '1', XDG_CACHE_HOME: cacheHome, SIGNET_HOME: join(work, 'home') },
    });
    expect(r.code).toBe(0);
    const files = await cacheFiles();
    expect(files.some((f) => f.endsWith('-key.v8cache'))).toBe(true);
    expect(files).toContain(mine);
    expect(existsSync(left[0]!)).toBe(false);
    expect(existsSync(left[1]!)).toBe(true);
    expect(existsSync(left[2]!)).toBe(true);
    for (const f of left) await rm(f, { force: true });
  });

  it('a cache directory that others can write to is not used', async () => {
    await rm(cacheDir, { recursive: true, force: true });
    await mkdir(cacheDir, { recursive: true });
    await chmod(cacheDir, 0o777);
    expect(await version()).toMatch(/^\d+\.\d+\.\d+/);
    expect(await cacheFiles()).toEqual([]);
  });

  it('SIGNET_CODE_CACHE=0 runs without a cache', async () => {
    await rm(cacheDir, { recursive: true, force: true });
    expect(await version({ SIGNET_CODE_CACHE: '0' })).toMatch(/^\d+\.\d+\.\d+/);
    expect(await cacheFiles()).toEqual([]);
  });
});
