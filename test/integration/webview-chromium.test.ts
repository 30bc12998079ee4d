import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import bcrypt from 'bcryptjs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import type { Descriptor } from '../../src/oci/index.ts';
import { createAuthorizer } from '../../src/server/auth/index.ts';
import { startRegistry, type RunningRegistry } from '../../src/server/index.ts';
import { sign, signCosign } from '../../src/sign/index.ts';
import { RegistryTarget } from '../../src/store/index.ts';
import { pushArtifact } from '../helpers/artifacts.ts';
import { REPO_ROOT } from '../helpers/serve.ts';
import { trustSetup } from '../helpers/trust.ts';

// The web view in a real browser (Debian's chromium, driven by playwright-core): what a user of
// `signet serve --auth … --policy … --trust-store …` sees, and what they must not.
const SHOTS = join(REPO_ROOT, 'test-output', 'webview');
const XSS = '<script>document.title="pwned"</script><img src=x onerror="document.title=1">';

describe('the web view in Chromium', () => {
  let work: string;
  let open: RunningRegistry;
  let guarded: RunningRegistry;
  let browser: Browser;
  let alice: BrowserContext;
  const d: Record<string, Descriptor> = {};
  const sigs: Record<string, string> = {};
  const savedHome = process.env.SIGNET_HOME;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'signet-webview-'));
    process.env.SIGNET_HOME = join(work, 'home');
    await mkdir(SHOTS, { recursive: true });
    const root = join(work, 'root');
    // Set up through a plain server on the same root (an enforcing one would not serve the
    // unsigned manifests the signing step reads), then serve it with --auth and a policy.
    open = await startRegistry({ root, addr: '127.0.0.1:0' });
    const { keys, store, policy } = await trustSetup(work);
    await keys.generate('rogue-root', { type: 'ecdsa-p256', ca: true, subject: 'CN=Rogue Root,O=X,ST=WA,C=US' });
    await keys.generate('rogue', { type: 'ecdsa-p256', issuer: 'rogue-root', subject: 'CN=Mallory,O=X,ST=WA,C=US' });
    const cos = await keys.generate('cos', { type: 'ecdsa-p256', subject: 'CN=cos,O=T,ST=WA,C=US' });

    const a = new RegistryTarget({ registry: open.host, repository: 'team/a' });
    d.signed = await pushArtifact(a, 'signed app', { tag: 'signed', artifactType: 'application/vnd.test.app' });
    d.rogue = await pushArtifact(a, 'rogue app', { tag: 'rogue', artifactType: 'application/vnd.test.app' });
    d.plain = await pushArtifact(a, 'plain app', { tag: 'plain', annotations: { 'org.example.note': XSS } });
    d.sbom = await pushArtifact(a, '{"spdxVersion":"SPDX-2.3"}', {
      subject: d.signed,
      artifactType: 'application/spdx+json',
      annotations: { 'org.example.note': XSS },
    });
    await a.close();
    const ref = (x: Descriptor): string => `${open.host}/team/a@${x.digest}`;
    sigs.jws = (await sign(ref(d.signed!), { keyStore: keys, signatureFormat: 'jws' }))[0]!.signature.digest;
    sigs.cose = (await sign(ref(d.signed!), { keyStore: keys, signatureFormat: 'cose' }))[0]!.signature.digest;
    sigs.cosign = (await signCosign(ref(d.signed!), cos.privateKey)).manifest.digest;
    sigs.sbom = (await sign(ref(d.sbom!), { keyStore: keys }))[0]!.signature.digest;
    sigs.rogue = (await sign(ref(d.rogue!), { keyStore: keys, key: 'rogue' }))[0]!.signature.digest;
    const b = new RegistryTarget({ registry: open.host, repository: 'team/b' });
    d.secret = await pushArtifact(b, 'team b only', {
      tag: 'secret',
      annotations: { 'org.example.note': 'TEAM-B-SECRET' },
    });
    await b.close();

    const auth = join(work, 'auth.json');
    await writeFile(
      auth,
      JSON.stringify({
        users: { alice: bcrypt.hashSync('wonderland', 4) },
        access: [{ repository: 'team/a', users: ['alice'], actions: ['pull'] }],
      })
    );
    // `signet serve --auth FILE --policy FILE --trust-store DIR`: the server's own enforcer
    guarded = await startRegistry({
      root,
      addr: '127.0.0.1:0',
      authorizer: await createAuthorizer(auth),
      policy: { trustPolicy: policy, trustStore: store },
      publicName: 'registry.example',
    });
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    alice = await browser.newContext({
      httpCredentials: { username: 'alice', password: 'wonderland' },
      viewport: { width: 1280, height: 900 },
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await guarded?.close();
    await open?.close();
    if (savedHome === undefined) delete process.env.SIGNET_HOME;
    else process.env.SIGNET_HOME = savedHome;
    await rm(work, { recursive: true, force: true });
  });

  const visit = async (page: Page, url: string): Promise<number> => (await page.goto(url))!.status();
  /** The page's HTML once a navigation (here: to Chromium's error page) has settled. */
  const settledContent = async (page: Page): Promise<string> => {
    for (let i = 0; ; i++) {
      try {
        await page.waitForLoadState();
        return await page.content();
      } catch (err) {
        if (i >= 20) throw err;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  };
  const shot = (page: Page, name: string): Promise<Buffer> =>
    page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

  it('anonymous access under --auth is refused with a Basic challenge, and shows no name', async () => {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    for (const path of ['/', '/ui/repo?name=team/a', `/ui/artifact?repo=team/a&tag=signed`, '/?repo=team/a']) {
      // Chromium answers the challenge with "no credentials" and shows nothing of the page
      const seen = page.waitForResponse((r) => r.url() === guarded.url + path);
      const nav = await page.goto(guarded.url + path).catch((err: Error) => err);
      expect(String(nav), path).toMatch(/ERR_INVALID_AUTH_CREDENTIALS/);
      const res = await seen;
      expect(res.status(), path).toBe(401);
      expect(await res.headerValue('www-authenticate')).toMatch(/^Basic realm=/);
      expect(await settledContent(page)).not.toContain('team/');
      // and the 401 body itself names nothing either
      expect(await (await ctx.request.get(guarded.url + path)).text()).not.toContain('team/');
    }
    await ctx.close();
  });

  it('a user who may pull only team/a sees nothing of team/b; names and digests outside their grammar are 400', async () => {
    const page = await alice.newPage();
    expect(await visit(page, `${guarded.url}/`)).toBe(200);
    const repos = await page.locator('main table a').allTextContents();
    expect(repos).toEqual(['team/a']);
    expect(await page.content()).not.toContain('team/b');
    await shot(page, 'repositories');
    expect(await visit(page, `${guarded.url}/ui/repo?name=team/b`)).toBe(403);
    expect(await visit(page, `${guarded.url}/?repo=team/b`)).toBe(403);
    expect(await visit(page, `${guarded.url}/ui/artifact?repo=team/b&digest=${d.secret!.digest}`)).toBe(403);
    // team/b's manifest asked for under team/a: not there
    expect(await visit(page, `${guarded.url}/ui/artifact?repo=team/a&digest=${d.secret!.digest}`)).toBe(404);
    expect(await visit(page, `${guarded.url}/ui/envelope?repo=team/a&digest=${d.secret!.digest}`)).toBe(404);
    expect(await page.content()).not.toContain('TEAM-B-SECRET');
    for (const path of [
      '/?repo=../..',
      `/?repo=${encodeURIComponent('../../elsewhere')}`,
      '/ui/repo?name=team/../../b',
      '/ui/artifact?repo=team/a&digest=../../etc/passwd',
      '/ui/artifact?repo=team/a&tag=../x',
      '/ui/envelope?repo=Team/A&digest=sha256:00',
    ]) {
      expect(await visit(page, guarded.url + path), path).toBe(400);
    }
    expect(await visit(page, `${guarded.url}/?repo=team/a`)).toBe(200);
    expect(await page.content()).toContain('<b>signed</b>');
    await page.close();
  });

  it('the tags page shows a verdict badge for a verified, a failed and an unsigned artifact', async () => {
    const page = await alice.newPage();
    expect(await visit(page, `${guarded.url}/ui/repo?name=team/a`)).toBe(200);
    const badgeOf = (tag: string): Promise<string | null> =>
      page.locator(`tr[data-tag="${tag}"] [data-badge]`).getAttribute('data-badge');
    expect(await badgeOf('signed')).toBe('verified');
    expect(await badgeOf('rogue')).toBe('failed');
    expect(await badgeOf('plain')).toBe('unsigned');
    expect(await page.locator('tr[data-tag="rogue"] [data-badge]').getAttribute('title')).toMatch(/authenticity/);
    await shot(page, 'tags');
    await page.close();
  });

  it('a verified artifact: descriptor, referrers tree with every family, the SBOM and its signature', async () => {
    const page = await alice.newPage();
    const res = (await page.goto(`${guarded.url}/ui/artifact?repo=team/a&tag=signed`))!;
    expect(res.status()).toBe(200);
    const h = await res.allHeaders();
    expect(h['content-security-policy']).toMatch(/^default-src 'none'; style-src 'unsafe-inline'; img-src 'self'/);
    expect(h['x-content-type-options']).toBe('nosniff');
    expect(h['referrer-policy']).toBe('no-referrer');
    expect(h['x-frame-options']).toBe('DENY');
    expect(await page.locator('.verdict [data-badge]').getAttribute('data-badge')).toBe('verified');
    expect(await page.locator('table.kv').first().textContent()).toContain(d.signed!.digest);
    const top = (digest: string): ReturnType<Page['locator']> => page.locator(`ul.tree > li[data-digest="${digest}"]`);
    for (const digest of [sigs.jws!, sigs.cose!]) {
      const node = top(digest);
      expect(await node.getAttribute('data-kind')).toBe('notary');
      const sig = node.locator(':scope > .sig');
      expect(await sig.textContent()).toContain('CN=L, O=T, ST=WA, C=US');
      expect(await sig.locator('time').textContent()).toMatch(/^\d{4}-\d\d-\d\dT/);
      expect(await sig.locator('[data-badge="verified"]').count()).toBe(1);
    }
    const cosign = top(sigs.cosign!);
    expect(await cosign.getAttribute('data-kind')).toBe('cosign');
    expect(await cosign.textContent()).toMatch(/via tag sha256-[0-9a-f]{64}\.sig/);
    // no cosign key in the policy: found and shown, judged by nothing
    expect(await cosign.locator(':scope > .sig [data-badge="unevaluated"]').count()).toBe(1);
    const sbom = top(d.sbom!.digest);
    expect(await sbom.getAttribute('data-kind')).toBe('sbom');
    const sbomSig = sbom.locator(`li[data-digest="${sigs.sbom}"]`);
    expect(await sbomSig.getAttribute('data-kind')).toBe('notary');
    expect(await sbomSig.textContent()).toContain('signs a referrer');
    await shot(page, 'artifact-verified');
    await page.close();
  });

  it('a failed artifact names the failed check; an unsigned one says so', async () => {
    const page = await alice.newPage();
    expect(await visit(page, `${guarded.url}/ui/artifact?repo=team/a&tag=rogue`)).toBe(200);
    expect(await page.locator('.verdict [data-badge]').getAttribute('data-badge')).toBe('failed');
    const sig = page.locator(`li[data-digest="${sigs.rogue}"] > .sig`);
    expect(await sig.textContent()).toContain('CN=Mallory');
    expect(await sig.locator('[data-badge="failed"]').count()).toBe(1);
    expect(await sig.locator('[data-check]').getAttribute('data-check')).toBe('authenticity');
    await shot(page, 'artifact-failed');
    expect(await visit(page, `${guarded.url}/ui/artifact?repo=team/a&tag=plain`)).toBe(200);
    expect(await page.locator('.verdict [data-badge]').getAttribute('data-badge')).toBe('unsigned');
    expect(await page.textContent('main')).toContain('No referrers');
    await page.close();
  });

  it('the decoded envelope on demand: JWS header and payload, COSE labels, the cosign payload', async () => {
    const page = await alice.newPage();
    await page.goto(`${guarded.url}/ui/artifact?repo=team/a&tag=signed`);
    await page.locator(`li[data-digest="${sigs.jws}"] > .node a`, { hasText: 'decoded envelope' }).click();
    expect(page.url()).toContain('/ui/envelope?');
    const jws = page.locator('section[data-format="Notary Project JWS"]');
    expect(await jws.locator('pre').first().textContent()).toContain('"io.cncf.notary.signingScheme": "notary.x509"');
    expect(await jws.textContent()).toContain('"targetArtifact"');
    expect(await jws.textContent()).toContain(d.signed!.digest);
    expect(await jws.textContent()).toContain('CN=L, O=T, ST=WA, C=US');
    await shot(page, 'envelope-jws');
    expect(await visit(page, `${guarded.url}/ui/envelope?repo=team/a&digest=${sigs.cose}`)).toBe(200);
    const cose = page.locator('section[data-format="Notary Project COSE"]');
    expect(await cose.textContent()).toContain('1 (alg)');
    expect(await cose.textContent()).toMatch(/-7 \(ES256\)/);
    expect(await cose.textContent()).toContain('"targetArtifact"');
    expect(await visit(page, `${guarded.url}/ui/envelope?repo=team/a&digest=${sigs.cosign}`)).toBe(200);
    const cosign = page.locator('section[data-format="cosign simple signing"]');
    expect(await cosign.textContent()).toContain('"docker-manifest-digest"');
    expect(await cosign.textContent()).toContain(d.signed!.digest);
    await page.close();
  });

  it('every value is escaped: an annotation carrying <script> is text, and nothing runs', async () => {
    const page = await alice.newPage();
    let dialogs = 0;
    page.on('dialog', (dlg) => {
      dialogs++;
      void dlg.dismiss();
    });
    for (const url of [
      `${guarded.url}/ui/artifact?repo=team/a&tag=plain`,
      `${guarded.url}/ui/artifact?repo=team/a&digest=${d.sbom!.digest}`,
    ]) {
      expect(await visit(page, url)).toBe(200);
      expect(await page.locator('script').count()).toBe(0);
      expect(await page.locator('main img').count()).toBe(0);
      expect(await page.textContent('main')).toContain(XSS);
      expect(await page.title()).not.toMatch(/pwned|^1$/);
    }
    await shot(page, 'escaped');
    expect(dialogs).toBe(0);
    await page.close();
  });

  it('without a policy the tree shows each family and says there is no policy', async () => {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    expect(await visit(page, `${open.url}/ui/artifact?repo=team/a&tag=signed`)).toBe(200);
    expect(await page.locator('.verdict [data-badge]').textContent()).toBe('no policy on this server');
    const notary = page.locator(`li[data-digest="${sigs.jws}"] > .sig`);
    expect(await notary.textContent()).toContain('no policy on this server');
    expect(await notary.locator('[data-badge="notary"]').count()).toBe(1);
    await ctx.close();
  });
});
