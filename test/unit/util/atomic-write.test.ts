import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { randomBytes } from 'node:crypto';
import { commitFile, isTempName, tempPathFor, writeFileAtomic } from '../../../src/util/index.ts';
import { writeLookaside } from '../../../src/signature/simple/sign.ts';
import { FreshnessState } from '../../../src/freshness/index.ts';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'signet-atomic-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function listAll(root: string): Promise<string[]> {
  return (await readdir(root, { recursive: true })).map(String);
}

describe('writeFileAtomic', () => {
  it('concurrent writers to one path each leave a complete file, and no temp file stays', async () => {
    const path = join(dir, 'concurrent', 'state.json');
    const contents = Array.from({ length: 24 }, (_, i) =>
      Buffer.concat([Buffer.from(`writer ${i}\n`), randomBytes(256 * 1024)])
    );
    const reads: Buffer[] = [];
    let writing = true;
    const reader = (async () => {
      while (writing) {
        const r = await readFile(path).catch(() => undefined);
        if (r) reads.push(r);
        await new Promise((res) => setImmediate(res));
      }
    })();
    await Promise.all(contents.map((c) => writeFileAtomic(path, c)));
    writing = false;
    await reader;
    const final = await readFile(path);
    expect(contents.some((c) => c.equals(final))).toBe(true);
    // a reader only ever saw one writer's whole content
    for (const r of reads) expect(contents.some((c) => c.equals(r))).toBe(true);
    expect(await readdir(join(dir, 'concurrent'))).toEqual(['state.json']);
  });

  it('honours the mode exactly, whatever the umask', async () => {
    const old = process.umask(0o077);
    try {
      await writeFileAtomic(join(dir, 'mode-644'), 'x', { mode: 0o644 });
      await writeFileAtomic(join(dir, 'mode-600'), 'x', { mode: 0o600 });
      await writeFileAtomic(join(dir, 'mode-default'), 'x');
    } finally {
      process.umask(old);
    }
    expect((await stat(join(dir, 'mode-644'))).mode & 0o777).toBe(0o644);
    expect((await stat(join(dir, 'mode-600'))).mode & 0o777).toBe(0o600);
    // without a mode, the umask applies as for any new file
    expect((await stat(join(dir, 'mode-default'))).mode & 0o777).toBe(0o600);
  });

  it('replaces by default; with noReplace an existing file is kept and EEXIST raised', async () => {
    const path = join(dir, 'keep');
    await writeFileAtomic(path, 'one');
    await writeFileAtomic(path, 'two');
    expect(await readFile(path, 'utf8')).toBe('two');
    await expect(writeFileAtomic(path, 'three', { noReplace: true })).rejects.toMatchObject({ code: 'EEXIST' });
    expect(await readFile(path, 'utf8')).toBe('two');
    expect((await readdir(dir)).filter(isTempName)).toEqual([]);
  });

  it('creates missing directories; a failed commit removes its temp file', async () => {
    const path = join(dir, 'a', 'b', 'c.txt');
    await writeFileAtomic(path, 'deep');
    expect(await readFile(path, 'utf8')).toBe('deep');
    // renaming a file over a non-empty directory fails: the temp file must not stay behind
    const blocker = join(dir, 'blocked');
    await writeFileAtomic(join(blocker, 'inside'), 'x');
    await expect(writeFileAtomic(blocker, 'y')).rejects.toThrow();
    expect((await readdir(dir)).filter(isTempName)).toEqual([]);
    const tmp = tempPathFor(blocker);
    await writeFile(tmp, 'z');
    await expect(commitFile(tmp, blocker)).rejects.toThrow();
    expect((await readdir(dir)).filter(isTempName)).toEqual([]);
  });

  it('temp names are unique, beside the target and recognisable', () => {
    const names = new Set(Array.from({ length: 1000 }, () => tempPathFor(join(dir, 'f'))));
    expect(names.size).toBe(1000);
    for (const n of names) expect(isTempName(n.slice(dir.length + 1))).toBe(true);
  });
});

describe('users of the helper', () => {
  it('concurrent simple-signing lookaside writes each get their own signature-N', async () => {
    const base = pathToFileURL(join(dir, 'lookaside')).href;
    const digest = `sha256:${'ab'.repeat(32)}`;
    const sigs = Array.from({ length: 8 }, (_, i) => Buffer.from(`signature ${i}`));
    const paths = await Promise.all(sigs.map((s) => writeLookaside(base, 'library/app', digest, s)));
    expect(new Set(paths).size).toBe(8);
    const stored = await Promise.all(paths.map((p) => readFile(p, 'utf8')));
    expect(stored.sort()).toEqual(sigs.map(String).sort());
    const files = await listAll(join(dir, 'lookaside'));
    expect(files.filter((f) => f.includes('.tmp'))).toEqual([]);
    expect(files.filter((f) => /signature-\d+$/.test(f)).length).toBe(8);
  });

  it('the freshness state is written whole, without temp files', async () => {
    const state = new FreshnessState(join(dir, 'freshness'));
    await state.accept('signer', 'app', 100, 'sha256:1');
    await state.accept('signer', 'app', 200, 'sha256:2');
    expect(await state.last('signer', 'app')).toMatchObject({ name: 'app', timestamp: 200, digest: 'sha256:2' });
    const files = await readdir(join(dir, 'freshness'));
    expect(files.length).toBe(1);
    expect(files.filter((f) => f.includes('tmp'))).toEqual([]);
  });
});
