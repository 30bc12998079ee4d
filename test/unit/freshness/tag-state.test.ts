import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FreshnessState, SignerState, TagState } from '../../../src/freshness/index.ts';

describe('Layer A state under $SIGNET_HOME/state', () => {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'signet-tag-state-'));
  });
  afterAll(async () => rm(work, { recursive: true, force: true }));

  it('judges newer, same, same-seq-other-digest and older releases', () => {
    const mark = { scope: 's', name: 'acme/app', tag: '1', seq: 5, digest: 'sha256:a', recorded: 'then' };
    expect(TagState.judge(undefined, 1, 'sha256:a')).toMatchObject({ ok: true, raises: true });
    expect(TagState.judge(mark, 6, 'sha256:b')).toMatchObject({ ok: true, raises: true });
    expect(TagState.judge(mark, 5, 'sha256:a')).toMatchObject({ ok: true, raises: false });
    expect(TagState.judge(mark, 5, 'sha256:b')).toMatchObject({ ok: false });
    expect(TagState.judge(mark, 4, 'sha256:c').reason).toMatch(/went backwards: seq 4 is older than seq 5/);
  });

  it('parallel advances never lower the mark: the highest seq wins, one file per (scope, name, tag)', async () => {
    const state = new TagState(join(work, 'tags'));
    const seqs = Array.from({ length: 24 }, (_, i) => (i * 7919) % 101);
    await Promise.all(
      seqs.map((seq) => state.advance({ scope: 'prod', name: 'acme/app', tag: 'latest', seq, digest: `sha256:${seq}` }))
    );
    const m = await state.read('prod', 'acme/app', 'latest');
    expect(m).toMatchObject({ seq: Math.max(...seqs), digest: `sha256:${Math.max(...seqs)}` });
    expect(await state.read('other-scope', 'acme/app', 'latest')).toBeUndefined();
    // allowDowngrade accepts, but never lowers
    const down = await state.advance(
      { scope: 'prod', name: 'acme/app', tag: 'latest', seq: 1, digest: 'sha256:1' },
      { allowDowngrade: true }
    );
    expect(down).toMatchObject({ ok: true, downgraded: true });
    expect((await state.read('prod', 'acme/app', 'latest'))?.seq).toBe(Math.max(...seqs));
  });

  it('a damaged mark is an error, never "no state"', async () => {
    const state = new TagState(join(work, 'damaged'));
    await mkdir(state.dir, { recursive: true });
    await writeFile(state.path('s', 'n', 't'), '{not json');
    await expect(state.read('s', 'n', 't')).rejects.toThrow(/damaged/);
  });

  it('the signer state only goes up', async () => {
    const s = new SignerState(join(work, 'signer'));
    await s.record({ name: 'acme/app', tag: '1', seq: 10, digest: 'sha256:b' });
    await s.record({ name: 'acme/app', tag: '1', seq: 3, digest: 'sha256:a' });
    expect(await s.last('acme/app', '1')).toMatchObject({ seq: 10, digest: 'sha256:b' });
  });

  it('static layout state: the former $SIGNET_HOME/freshness is still read, writes go to state/layout', async () => {
    const legacy = join(work, 'freshness');
    const file = createHash('sha256').update('fpr\0app/x').digest('hex');
    await mkdir(legacy, { recursive: true });
    await writeFile(join(legacy, file), JSON.stringify({ name: 'app/x', timestamp: 100, digest: 'sha256:old' }));
    const state = new FreshnessState(join(work, 'state', 'layout'), legacy);
    await expect(state.accept('fpr', 'app/x', 50, 'sha256:older')).rejects.toThrow(/refusing a downgrade/);
    await state.accept('fpr', 'app/x', 200, 'sha256:new');
    expect(JSON.parse(await readFile(join(work, 'state', 'layout', file), 'utf8'))).toMatchObject({ timestamp: 200 });
    expect(JSON.parse(await readFile(join(legacy, file), 'utf8'))).toMatchObject({ timestamp: 100 });
    expect(await state.last('fpr', 'app/x')).toMatchObject({ timestamp: 200 });
  });
});
