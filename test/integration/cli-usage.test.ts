import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { createPublicKey, webcrypto, X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as pkijs from 'pkijs';
import { copy } from '../../src/copy/index.ts';
import { checkRevocation, createCertificate, generateKeyPair } from '../../src/pki/index.ts';
import { runSignet, startServe, type Served } from '../helpers/serve.ts';

const run = promisify(execFile);
const DAY = 86_400_000;

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

describe('the CLI: one exit-code table, messages that name the real choices', { timeout: 120_000 }, () => {
  let work: string;
  let home: string;
  let served: Served;
  let ref: string;
  const signet = (args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Result> =>
    runSignet(args, { cwd: options.cwd ?? work, env: { SIGNET_HOME: home, ...options.env } });

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'signet-cli-usage-'));
    home = join(work, 'home');
    served = await startServe();
    ref = `${served.host}/demo/app:v1`;
    await writeFile(join(work, 'app.tar'), 'an artifact\n');
    const pushed = await signet(['push', ref, 'app.tar']);
    expect(pushed.code, pushed.stderr).toBe(0);
  });

  afterAll(async () => {
    await served?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  describe('malformed references are usage errors (exit 2)', () => {
    it('a URL, an upper-case repository, a short digest, a bad tag', async () => {
      const cases: Array<[string, RegExp]> = [
        [`http://${ref}`, new RegExp(`is a URL: a registry reference has no scheme \\(write ${ref}\\)`)],
        [`${served.host}/Demo/app:v1`, /invalid repository name "Demo\/app".*\[NAME_INVALID\]/],
        [`${served.host}/demo/app@sha256:abc`, /invalid sha256 digest: want 64 lower-case hex characters \[DIGEST_/],
        [`${served.host}/demo/app:-v1`, /invalid tag "-v1".*\[TAG_INVALID\]/],
      ];
      const results = await Promise.all(cases.map(([r]) => signet(['discover', r])));
      results.forEach((r, i) => {
        expect(r.code, `${cases[i]![0]}: ${r.stderr}`).toBe(2);
        expect(r.stderr).toMatch(cases[i]![1]);
        expect(r.stdout).toBe('');
      });
    });

    it('a path without oci: is told to write oci:PATH, not looked up as a host', async () => {
      const paths = ['./airgap.tar:v1', '/tmp/x', '../dir'];
      const results = await Promise.all(paths.map((p) => signet(['discover', p])));
      results.forEach((r, i) => {
        expect(r.code, r.stderr).toBe(2);
        expect(r.stderr).toContain(`looks like a path: an OCI image layout is named with oci:, write oci:${paths[i]}`);
        expect(r.stderr).not.toMatch(/getaddrinfo|ENOTFOUND/);
      });
    });
  });

  describe('policies', () => {
    it('policy init rule errors and policy import of a broken policy exit 2', async () => {
      const statement = {
        name: 'x',
        registryScopes: ['*'],
        signatureVerification: { level: 'nope' },
        trustStores: ['ca:x'],
        trustedIdentities: ['*'],
      };
      await writeFile(join(work, 'broken-policy.json'), JSON.stringify({ version: '1.0', trustPolicies: [statement] }));
      const isolated = { SIGNET_HOME: join(work, 'policy-home') };
      const [level, scope, imported] = await Promise.all([
        signet(['policy', 'init', '--name', 'x', '--trust-store', 'ca:x', '--level', 'bogus'], { env: isolated }),
        signet(['policy', 'init', '--name', 'x', '--trust-store', 'ca:x', '--scope', 'alpine'], { env: isolated }),
        signet(['policy', 'import', 'broken-policy.json'], { env: isolated }),
      ]);
      expect(level.code, level.stderr).toBe(2);
      expect(level.stderr).toContain('unknown verification level "bogus"');
      expect(scope.code, scope.stderr).toBe(2);
      expect(scope.stderr).toContain('registry scope "alpine" is not of the form domain[:port]/repository');
      expect(imported.code, imported.stderr).toBe(2);
      expect(imported.stderr).toContain('unknown verification level "nope"');
      expect(existsSync(join(work, 'policy-home', 'trustpolicy.json'))).toBe(false);
    });

    it('policy init adds a scoped statement beside a "*" one, replaces by name, refuses a taken scope', async () => {
      const env = { SIGNET_HOME: join(work, 'merge-home') };
      const init = (...args: string[]): Promise<Result> =>
        signet(['policy', 'init', '--trust-store', 'ca:example', ...args], { env });
      const policyFile = join(work, 'merge-home', 'trustpolicy.json');
      const identity = 'x509.subject: CN=release,O=Example,ST=WA,C=US';
      const first = await init('--name', 'default');
      expect(first.code, first.stderr).toBe(0);
      const scoped = await init('--name', 'app', '--scope', `${served.host}/demo/app`, '--identity', identity);
      expect(scoped.code, scoped.stderr).toBe(0);
      expect(scoped.stdout).toContain('Added statement "app"');
      const taken = await init('--name', 'other', '--scope', `${served.host}/demo/app`);
      expect(taken.code).toBe(2);
      expect(taken.stderr).toContain(`scope "${served.host}/demo/app" belongs to statement "app"`);
      const replaced = await init('--name', 'app', '--scope', `${served.host}/demo/app`, '--level', 'audit');
      expect(replaced.code, replaced.stderr).toBe(0);
      expect(replaced.stdout).toContain('Replaced statement "app"');
      type Statement = { name: string; registryScopes: string[]; signatureVerification: { level: string } };
      type Doc = { trustPolicies: Statement[] };
      const doc = JSON.parse(await readFile(policyFile, 'utf8')) as Doc;
      expect(doc.trustPolicies.map((s) => [s.name, s.registryScopes, s.signatureVerification.level])).toEqual([
        ['default', ['*'], 'strict'],
        ['app', [`${served.host}/demo/app`], 'audit'],
      ]);
      const forced = await init('--name', 'only', '--force');
      expect(forced.code, forced.stderr).toBe(0);
      const after = JSON.parse(await readFile(policyFile, 'utf8')) as Doc;
      expect(after.trustPolicies.map((s) => s.name)).toEqual(['only']);
    });

    it('verify: a --policy file that does not exist exits 2, no policy at all exits 1', async () => {
      const env = { SIGNET_HOME: join(work, 'empty-home') };
      const [missing, none] = await Promise.all([
        signet(['verify', ref, '--policy', join(work, 'no-such-policy.json')], { env }),
        signet(['verify', ref], { env }),
      ]);
      expect(missing.code, missing.stderr).toBe(2);
      expect(missing.stderr).toContain('no-such-policy.json');
      expect(none.code, none.stderr).toBe(1);
    });
  });

  it('every -o/--output takes only the formats its command documents (exit 2, no work done)', async () => {
    const fsckRoot = served.root;
    await writeFile(join(work, 'f.txt'), 'x');
    const commands: string[][] = [
      ['ls', ref],
      ['inspect', ref],
      ['discover', ref],
      ['key', 'list'],
      ['cert', 'list'],
      ['plugin', 'list'],
      ['fsck', '--root', fsckRoot],
      ['copy', ref, `oci:${join(work, 'never-made')}:v1`],
      ['blob', 'verify', 'f.txt', '--signature', 'f.txt.jws.sig'],
      ['verify', ref],
      ['sign', ref],
    ];
    const results = await Promise.all(commands.map((c) => signet([...c, '-o', 'yaml'])));
    results.forEach((r, i) => {
      expect(r.code, `${commands[i]!.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(/unknown output format "yaml"; choose one of (text|tree), json/);
      expect(r.stdout).toBe('');
    });
    expect(existsSync(join(work, 'never-made'))).toBe(false);
    // tree exists only where documented
    const tree = await signet(['ls', ref, '-o', 'tree']);
    expect(tree.code).toBe(2);
    expect(tree.stderr).toContain('choose one of text, json');
  }, 180_000);

  describe('keys', () => {
    it('key generate --type lists the OpenPGP types too, in help and in the error', async () => {
      const [bad, help] = await Promise.all([
        signet(['key', 'generate', 'k', '--type', 'dsa']),
        signet(['key', 'generate', '--help']),
      ]);
      const all = 'ecdsa-p256, ecdsa-p384, ecdsa-p521, rsa-2048, rsa-3072, rsa-4096, gpg-rsa4096, gpg-ed25519';
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain(`unknown --type dsa; choose one of ${all}`);
      expect(help.code).toBe(0);
      expect(help.stdout.replace(/\s+/g, ' ')).toContain('gpg-rsa4096, gpg-ed25519');
    });

    it('key show --public prints the SubjectPublicKeyInfo PEM that openssl reads', async () => {
      const env = { SIGNET_HOME: join(work, 'key-home') };
      const subject = 'CN=release,O=Example,ST=WA,C=US';
      const gen = await signet(['key', 'generate', 'release', '--type', 'ecdsa-p384', '--subject', subject], { env });
      expect(gen.code, gen.stderr).toBe(0);
      const [pub, cert] = await Promise.all([
        signet(['key', 'show', 'release', '--public'], { env }),
        signet(['key', 'show', 'release', '--cert'], { env }),
      ]);
      expect(pub.code, pub.stderr).toBe(0);
      expect(pub.stdout).toMatch(/^-----BEGIN PUBLIC KEY-----\n[\s\S]+\n-----END PUBLIC KEY-----\n$/);
      const leafKey = new X509Certificate(cert.stdout).publicKey.export({ type: 'spki', format: 'der' });
      expect(createPublicKey(pub.stdout).export({ type: 'spki', format: 'der' }).equals(leafKey)).toBe(true);
      await writeFile(join(work, 'release.pub'), pub.stdout);
      const text = await run('openssl', ['pkey', '-pubin', '-in', join(work, 'release.pub'), '-noout', '-text']);
      expect(text.stdout).toMatch(/384 bit|P-384|secp384r1/);
    });

    it('key show works for a plugin key that key list shows; --public says the plugin holds it', async () => {
      const env = { SIGNET_HOME: join(work, 'plugin-home') };
      const plugin = join(work, 'notation-fakehsm');
      await writeFile(
        plugin,
        `#!/usr/bin/env node
if (process.argv[2] === 'get-plugin-metadata') {
  process.stdout.write(JSON.stringify({ name: 'fakehsm', description: 'test', version: '0.0.1',
    url: 'https://example.invalid', supportedContractVersions: ['1.0'], capabilities: ['SIGNATURE_GENERATOR.RAW'] }));
} else { process.stderr.write(JSON.stringify({ errorCode: 'ERROR', errorMessage: 'not here' })); process.exit(1); }
`
      );
      await chmod(plugin, 0o755);
      expect((await signet(['plugin', 'install', '--file', plugin], { env })).code).toBe(0);
      const keyArgs = ['--plugin', 'fakehsm', '--id', 'token=t;label=release', '--plugin-config', 'pin=1234'];
      const add = await signet(['key', 'add', 'hsm', ...keyArgs], { env });
      expect(add.code, add.stderr).toBe(0);
      const list = await signet(['key', 'list'], { env });
      expect(list.stdout).toContain('hsm');
      const [show, pub] = await Promise.all([
        signet(['key', 'show', 'hsm'], { env }),
        signet(['key', 'show', 'hsm', '--public'], { env }),
      ]);
      expect(show.code, show.stderr).toBe(0);
      expect(show.stdout).toContain('held by plugin: fakehsm');
      expect(show.stdout).toContain('key id: token=t;label=release');
      expect(show.stdout).toContain('plugin config: pin=1234');
      expect(pub.code).toBe(2);
      expect(pub.stderr).toContain('key hsm is held by plugin fakehsm');
    });
  });

  it('fsck of a missing directory is an error, of a directory that is no store too', async () => {
    await mkdir(join(work, 'not-a-store'));
    const [missing, notStore, sound] = await Promise.all([
      signet(['fsck', '--root', join(work, 'no-such-dir')]),
      signet(['fsck', '--root', join(work, 'not-a-store')]),
      signet(['fsck', '--root', served.root]),
    ]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`no registry store at ${join(work, 'no-such-dir')}: the directory does not exist`);
    expect(missing.stdout).toBe('');
    expect(notStore.code).toBe(3);
    expect(notStore.stderr).toContain('is not a registry store');
    expect(sound.code, sound.stderr).toBe(0);
    expect(sound.stdout).toMatch(/checked [1-9]\d* objects/);
  });

  it('a revoked issuing CA is reported as the issuing CA certificate, with its subject', async () => {
    const notBefore = new Date(Date.now() - DAY);
    const notAfter = new Date(Date.now() + 365 * DAY);
    const crlUrl = 'http://127.0.0.1:9/root.crl'; // never fetched: the CRL comes in the offline bundle
    const name = new pkijs.GeneralName({ type: 6, value: crlUrl });
    const point = new pkijs.DistributionPoint({ distributionPoint: [name] });
    const cdp = new pkijs.CRLDistributionPoints({ distributionPoints: [point] });
    const cdpValue = cdp.toSchema().toBER(false);
    const cdpExt = new pkijs.Extension({ extnID: '2.5.29.31', critical: false, extnValue: cdpValue });
    const validity = { notBefore, notAfter };
    const rootKeys = generateKeyPair('ecdsa-p256');
    const root = await createCertificate({
      subject: 'CN=Revoking Root,O=Example,ST=WA,C=US',
      publicKey: rootKeys.publicKey,
      signingKey: rootKeys.privateKey,
      ca: true,
      ...validity,
    });
    const caKeys = generateKeyPair('ecdsa-p256');
    const ca = await createCertificate({
      subject: 'CN=Issuing CA,O=Example,ST=WA,C=US',
      publicKey: caKeys.publicKey,
      issuer: { cert: root, privateKey: rootKeys.privateKey },
      ca: true,
      ...validity,
      extraExtensions: [cdpExt],
    });
    const leafKeys = generateKeyPair('ecdsa-p256');
    const leaf = await createCertificate({
      subject: 'CN=release,O=Example,ST=WA,C=US',
      publicKey: leafKeys.publicKey,
      issuer: { cert: ca, privateKey: caKeys.privateKey },
      ...validity,
    });
    const crl = new pkijs.CertificateRevocationList({
      version: 1,
      issuer: pkijs.Certificate.fromBER(root.raw).subject,
      thisUpdate: new pkijs.Time({ type: 0, value: new Date(Date.now() - 60_000) }),
      nextUpdate: new pkijs.Time({ type: 0, value: new Date(Date.now() + DAY) }),
    });
    crl.revokedCertificates = [
      new pkijs.RevokedCertificate({
        userCertificate: pkijs.Certificate.fromBER(ca.raw).serialNumber,
        revocationDate: new pkijs.Time({ type: 0, value: new Date(Date.now() - 30_000) }),
      }),
    ];
    const pkcs8 = rootKeys.privateKey.export({ format: 'der', type: 'pkcs8' });
    const ecdsa = { name: 'ECDSA', namedCurve: 'P-256' };
    const key = await webcrypto.subtle.importKey('pkcs8', pkcs8, ecdsa, false, ['sign']);
    await crl.sign(key, 'SHA-256');
    const bundle = [new Uint8Array(crl.toSchema(true).toBER(false))];
    const r = await checkRevocation([leaf, ca, root], { offline: true, bundle });
    expect(r.status).toBe('revoked');
    const subject = '"CN=Issuing CA, O=Example, ST=WA, C=US"';
    expect(r.message).toBe(`issuing CA certificate with subject ${subject} is revoked (CRL ${crlUrl})`);
    // the same CA as the chain's signer is the signing certificate
    const asSigner = await checkRevocation([ca, root], { offline: true, bundle });
    expect(asSigner.message).toBe(`signing certificate with subject ${subject} is revoked (CRL ${crlUrl})`);
  });

  describe('copy: one ref grammar for layouts, every argument checked before any work', () => {
    const FLATPAK = 'app/org.example.App/x86_64/stable';

    it('copies into a layout under a Flatpak ref, which discover then reads', async () => {
      const layout = join(work, 'flatpak-layout');
      const c = await signet(['copy', ref, `oci:${layout}:${FLATPAK}`]);
      expect(c.code, c.stderr).toBe(0);
      type Index = { manifests: Array<{ annotations?: Record<string, string> }> };
      const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as Index;
      expect(index.manifests.map((m) => m.annotations?.['org.opencontainers.image.ref.name'])).toContain(FLATPAK);
      const d = await signet(['discover', `oci:${layout}:${FLATPAK}`, '-o', 'json']);
      expect(d.code, d.stderr).toBe(0);
      expect((JSON.parse(d.stdout) as { digest: string }).digest).toMatch(/^sha256:/);
    });

    it('refuses a Flatpak ref as a registry tag before copying a blob', async () => {
      const layout = join(work, 'flatpak-src');
      expect((await signet(['copy', ref, `oci:${layout}:${FLATPAK}`])).code).toBe(0);
      const r = await signet(['copy', `oci:${layout}:${FLATPAK}`, `${served.host}/demo/untagged`]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`cannot name the copy "${FLATPAK}" in ${served.host}/demo/untagged`);
      expect(r.stdout).toBe('');
      expect(existsSync(join(served.root, 'repositories', 'demo', 'untagged'))).toBe(false);
      // with a tag of its own it goes
      const tagged = await signet(['copy', `oci:${layout}:${FLATPAK}`, `${served.host}/demo/untagged:stable`]);
      expect(tagged.code, tagged.stderr).toBe(0);
    });

    it('refuses malformed layout refs and bad destinations without creating anything', async () => {
      const cases: Array<[string[], RegExp]> = [
        [[ref, `oci:${join(work, 'bad1')}:app/org.example.App`], /invalid layout ref "app\/org.example.App"/],
        [[ref, `oci:${join(work, 'bad2')}@sha256:${'a'.repeat(64)}`], /must not name a digest/],
        [[`${served.host}/demo/app`, `oci:${join(work, 'bad3')}:v1`], /needs a tag or digest/],
        [[ref, `oci:${join(work, 'bad4')}:v1`, '--concurrency', '0'], /--concurrency takes a positive whole number/],
        [[ref, './bad5:v1'], /write oci:.\/bad5:v1/],
      ];
      const results = await Promise.all(cases.map(([args]) => signet(['copy', ...args])));
      results.forEach((r, i) => {
        expect(r.code, r.stderr).toBe(2);
        expect(r.stderr).toMatch(cases[i]![1]);
      });
      for (const d of ['bad1', 'bad2', 'bad3', 'bad4', 'bad5']) expect(existsSync(join(work, d))).toBe(false);
      // a source that does not exist creates no destination either (exit 3: not found)
      const gone = await signet(['copy', `${served.host}/demo/app:nope`, `oci:${join(work, 'bad6')}:v1`]);
      expect(gone.code).toBe(3);
      expect(existsSync(join(work, 'bad6'))).toBe(false);
    }, 120_000);

    it('the library copy() takes two references, and still two targets', async () => {
      const { openTarget } = await import('../../src/store/index.ts');
      const layout = join(work, 'lib-layout.tar');
      const report = await copy(ref, `oci:${layout}:${FLATPAK}`);
      expect(report.root.digest).toMatch(/^sha256:/);
      expect(report.copied).toBeGreaterThan(0);
      const back = await copy(`oci:${layout}:${FLATPAK}`, `${served.host}/demo/lib:v2`);
      expect(back.root.digest).toBe(report.root.digest);
      const untagged = copy(`oci:${layout}:${FLATPAK}`, `${served.host}/demo/lib2`);
      await expect(untagged).rejects.toMatchObject({ kind: 'usage' });
      const badRef = copy(ref, `oci:${join(work, 'lib-bad')}:app/x`);
      await expect(badRef).rejects.toMatchObject({ code: 'TAG_INVALID', kind: 'usage' });
      expect(existsSync(join(served.root, 'repositories', 'demo', 'lib2'))).toBe(false);
      expect(existsSync(join(work, 'lib-bad'))).toBe(false);
      const src = await openTarget(ref);
      const dir = await openTarget(`oci:${join(work, 'lib-dir')}`, { create: true });
      const reg = await openTarget(`${served.host}/demo/lib3`, { create: true });
      try {
        expect((await copy(src.target, 'v1', dir.target, FLATPAK)).root.digest).toBe(report.root.digest);
        await expect(copy(src.target, 'v1', reg.target, FLATPAK)).rejects.toMatchObject({ kind: 'usage' });
        expect(existsSync(join(served.root, 'repositories', 'demo', 'lib3'))).toBe(false);
      } finally {
        await Promise.all([src.target.close(), dir.target.close(), reg.target.close()]);
      }
      expect(await readFile(join(work, 'lib-dir', 'index.json'), 'utf8')).toContain(`"${FLATPAK}"`);
    });
  });
});
