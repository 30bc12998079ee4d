import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createReadStream } from 'node:fs';
import { cp, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, normalize } from 'node:path';
import { FreshnessState } from '../../src/freshness/index.ts';
import { signLayout } from '../../src/sign/index.ts';
import { verify, type VerificationReport } from '../../src/verify/index.ts';
import { runSignet } from '../helpers/serve.ts';
import { LayoutTarget } from '../../src/store/index.ts';
import { pushArtifact } from '../helpers/artifacts.ts';

async function serveDir(root: string): Promise<{ url: (sub: string) => string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const file = join(root, normalize(decodeURIComponent((req.url ?? '/').split('?')[0]!)));
    if (!file.startsWith(root)) return void res.writeHead(403).end();
    stat(file).then(
      (st) =>
        st.isFile()
          ? (res.writeHead(200, { 'content-length': st.size }), createReadStream(file).pipe(res))
          : res.writeHead(404).end(),
      () => res.writeHead(404).end()
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { url: (sub) => `http://127.0.0.1:${port}/${sub}`, close: () => new Promise((r) => server.close(() => r())) };
}

/**
 * Every named ref of a layout through the one engine with a layout-key requirement; a ref's
 * reason is its first failed check (of a signature, or of the requirement itself).
 */
async function verifyLayout(
  location: string,
  options: { keys: Uint8Array[]; state: FreshnessState }
): Promise<{ verified: boolean; refs: Array<{ ref: string; verified: boolean; reason?: string }> }> {
  const refs = [];
  for (const ref of ['app/org.test.App/x86_64/stable', 'runtime/org.test.Platform/x86_64/stable']) {
    const r = await verify(`oci:${location}:${ref}`, {
      sources: { layoutKeys: options.keys, freshness: options.state, defaults: false },
    });
    const failed = [...r.signatures.flatMap((s) => s.checks), ...r.requirements.flatMap((q) => q.checks)].find(
      (c) => c.outcome === 'fail'
    );
    refs.push({
      ref,
      verified: r.verdict === 'verified',
      ...(failed ? { reason: `${failed.name}: ${failed.reason}` } : {}),
    });
  }
  return { verified: refs.every((r) => r.verified), refs };
}

describe('static signed OCI layouts (signatures in index.json, Flatpak-style), served by a plain web server', () => {
  let work: string;
  let web: Awaited<ReturnType<typeof serveDir>>;
  let key: string;
  let pub: Uint8Array;
  const APP = 'app/org.test.App/x86_64/stable';
  const RT = 'runtime/org.test.Platform/x86_64/stable';

  async function layout(name: string, content: string): Promise<string> {
    const dir = join(work, 'site', name);
    const t = await LayoutTarget.open(dir, { create: true });
    await t.setRefName(await pushArtifact(t, `${content} app`), APP);
    await t.setRefName(await pushArtifact(t, `${content} runtime`), RT);
    return dir;
  }

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'signet-signed-layout-'));
    const openpgp = await import('openpgp');
    const k = await openpgp.generateKey({
      type: 'ecc',
      curve: 'ed25519Legacy',
      userIDs: [{ name: 'repo' }],
      format: 'armored',
    });
    key = k.privateKey;
    pub = (await openpgp.readKey({ armoredKey: k.publicKey })).write();
    web = await serveDir(join(work, 'site'));
  });
  afterAll(async () => {
    await web?.close();
    await rm(work, { recursive: true, force: true });
  });

  it('a signed layout verifies from disk and over HTTP', async () => {
    const dir = await layout('good', 'v1');
    const signed = await signLayout(dir, { armoredKey: key });
    expect(signed.map((s) => s.ref).sort()).toEqual([APP, RT].sort());
    const state = new FreshnessState(join(work, 'state-good'));
    expect((await verifyLayout(dir, { keys: [pub], state })).verified).toBe(true);
    const overHttp = await verifyLayout(web.url('good'), { keys: [pub], state });
    expect(overHttp.verified, JSON.stringify(overHttp.refs)).toBe(true);
  });

  it('an entry with its signature removed, a signature moved to another ref, and a tampered signature blob fail', async () => {
    const dir = await layout('bad', 'v1');
    await signLayout(dir, { armoredKey: key });
    const indexPath = join(dir, 'index.json');
    const index = JSON.parse(await readFile(indexPath, 'utf8')) as {
      manifests: Array<{ annotations: Record<string, string> }>;
    };
    const byRef = (r: string) => index.manifests.find((m) => m.annotations['org.opencontainers.image.ref.name'] === r)!;
    const state = () => new FreshnessState(join(work, `state-${Math.random()}`));
    // removed
    const saved = byRef(APP).annotations['org.flatpak.signature-digest']!;
    delete byRef(APP).annotations['org.flatpak.signature-digest'];
    await writeFile(indexPath, JSON.stringify(index));
    let v = await verifyLayout(web.url('bad'), { keys: [pub], state: state() });
    expect(v.refs.find((r) => r.ref === APP)?.reason).toMatch(
      /no layout \(org.flatpak.signature-digest\) signature is associated/
    );
    // moved: the runtime's signature put on the app entry
    byRef(APP).annotations['org.flatpak.signature-digest'] = byRef(RT).annotations['org.flatpak.signature-digest']!;
    await writeFile(indexPath, JSON.stringify(index));
    v = await verifyLayout(web.url('bad'), { keys: [pub], state: state() });
    expect(v.verified).toBe(false);
    expect(v.refs.find((r) => r.ref === APP)?.reason).toMatch(/is for ref runtime\/org.test.Platform/);
    // tampered blob
    byRef(APP).annotations['org.flatpak.signature-digest'] = saved;
    await writeFile(indexPath, JSON.stringify(index));
    const blob = join(dir, 'blobs', 'sha256', saved.slice(7));
    const b = await readFile(blob);
    b[b.length - 4] = b[b.length - 4]! ^ 0xff;
    await writeFile(blob, b);
    v = await verifyLayout(web.url('bad'), { keys: [pub], state: state() });
    expect(v.refs.find((r) => r.ref === APP)?.reason).toMatch(/does not match its digest/);
    expect(v.refs.find((r) => r.ref === RT)?.verified).toBe(true);
  });

  it('a re-served older signed version is refused once a newer one was accepted', async () => {
    const dir = await layout('site-now', 'v1');
    await signLayout(dir, { armoredKey: key, now: new Date('2026-01-01T00:00:00Z') });
    await cp(dir, join(work, 'site', 'old-copy'), { recursive: true });
    const state = new FreshnessState(join(work, 'state-rollback'));
    expect((await verifyLayout(web.url('site-now'), { keys: [pub], state })).verified).toBe(true);
    // the publisher releases v2, signed later; the client accepts it
    await rm(dir, { recursive: true });
    const v2 = await layout('site-now', 'v2');
    await signLayout(v2, { armoredKey: key, now: new Date('2026-06-01T00:00:00Z') });
    expect((await verifyLayout(web.url('site-now'), { keys: [pub], state })).verified).toBe(true);
    // a mirror serves the old, validly signed v1 again
    const old = await verifyLayout(web.url('old-copy'), { keys: [pub], state });
    expect(old.verified).toBe(false);
    expect(old.refs[0]!.reason).toMatch(/older than the one last accepted .*refusing a downgrade/);
  });

  it('a key that did not sign the layout is refused', async () => {
    const openpgp = await import('openpgp');
    const other = await openpgp.generateKey({
      type: 'ecc',
      curve: 'ed25519Legacy',
      userIDs: [{ name: 'x' }],
      format: 'armored',
    });
    const v = await verifyLayout(join(work, 'site', 'good'), {
      keys: [(await openpgp.readKey({ armoredKey: other.publicKey })).write()],
      state: new FreshnessState(join(work, 'state-other')),
    });
    expect(v.verified).toBe(false);
  });

  it('CLI: a layout named without a ref verifies every named ref (one report each) with --layout-key', async () => {
    const dir = await layout('cli', 'v1');
    await signLayout(dir, { armoredKey: key });
    const pubFile = join(work, 'cli.pub');
    await writeFile(pubFile, pub);
    const env = { SIGNET_HOME: join(work, 'cli-home') };
    const ok = await runSignet(['verify', `oci:${dir}`, '--layout-key', pubFile, '-o', 'json'], { env });
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    const reports = JSON.parse(ok.stdout) as VerificationReport[];
    expect(reports.map((r) => r.reference.split('@')[0])).toEqual([`oci:${dir}`, `oci:${dir}`]);
    expect(reports.every((r) => r.verdict === 'verified' && r.signatures[0]!.family === 'layout')).toBe(true);
    const other = await layout('cli-unsigned', 'v2');
    const bad = await runSignet(['verify', `oci:${other}`, '--layout-key', pubFile], { env });
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/no layout \(org.flatpak.signature-digest\) signature is associated/);
  });
});
