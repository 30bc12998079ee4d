import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ImageIndex } from '../../../../src/oci/index.ts';
import { fetchManifest, LayoutTarget } from '../../../../src/store/index.ts';
import { pushArtifact } from '../../../helpers/artifacts.ts';

const SRC = pathToFileURL(join(import.meta.dirname, '../../../../src/store/index.ts')).href;
const HELPERS = pathToFileURL(join(import.meta.dirname, '../../../helpers/artifacts.ts')).href;

/** A writer in another process: a slow endless blob push beside a stream of referrer pushes. */
const CHILD = `
import { Readable } from 'node:stream';
import { LayoutTarget } from '${SRC}';
import { pushArtifact } from '${HELPERS}';
const t = await LayoutTarget.open(process.argv[2]);
const root = await t.resolve('v1');
const chunk = Buffer.alloc(64 * 1024, 7);
async function* slow() { for (;;) { yield chunk; await new Promise((r) => setTimeout(r, 2)); } }
void t.push({ mediaType: 'application/octet-stream', digest: 'sha256:' + 'ab'.repeat(32), size: 1 << 30 }, Readable.from(slow()));
for (let i = 0; ; i++) await pushArtifact(t, 'sig ' + i, { subject: root });
`;

describe('layout writes survive kill -9', () => {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'signet-layout-crash-'));
  });
  afterAll(async () => rm(work, { recursive: true, force: true }));

  it('a writer killed mid-push leaves no partial blob under a digest name and a valid index.json', async () => {
    const dir = join(work, 'layout');
    const t = await LayoutTarget.open(dir, { create: true });
    const root = await pushArtifact(t, 'root', { tag: 'v1' });
    const script = join(work, 'child.mts'); // .mts: ESM (top-level await) outside the package
    await writeFile(script, CHILD);
    // cwd is the repository, so that --import finds its tsx.
    const child = spawn(process.execPath, ['--import', 'tsx', script, dir], {
      cwd: join(import.meta.dirname, '../../../..'),
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    let gone = false;
    const exited = new Promise<NodeJS.Signals | number | null>((r) =>
      child.on('exit', (code, signal) => {
        gone = true;
        r(signal ?? code);
      })
    );
    try {
      // Wait until the big blob is part written and several referrers are in index.json.
      const deadline = Date.now() + 30_000;
      for (;;) {
        if (gone || Date.now() > deadline) throw new Error(`child made no progress: ${stderr}`);
        const names = await readdir(join(dir, 'blobs', 'sha256'));
        const temp = names.find((n) => n.startsWith(`.tmp-${'ab'.repeat(32)}`));
        const entries = (JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as ImageIndex).manifests.length;
        if (temp && (await stat(join(dir, 'blobs', 'sha256', temp))).size > 1024 * 1024 && entries > 5) break;
        await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      child.kill('SIGKILL'); // also when the wait failed: never leave the writer running
    }
    expect(await exited).toBe('SIGKILL');
    const names = await readdir(join(dir, 'blobs', 'sha256'));
    expect(names).not.toContain('ab'.repeat(32));
    expect(names.filter((n) => !n.startsWith('.')).every((n) => /^[a-f0-9]{64}$/.test(n))).toBe(true);
    const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as ImageIndex;
    const again = await LayoutTarget.open(dir);
    const refs = await again.referrers(root);
    // Every listed referrer is whole: its manifest and blobs verify.
    expect(refs.length).toBe(index.manifests.length - 1);
    for (const r of refs) expect((await fetchManifest(again, r)).manifest.subject?.digest).toBe(root.digest);
  }, 60_000);
});
