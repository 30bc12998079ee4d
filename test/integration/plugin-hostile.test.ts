import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmod, mkdir, mkdtemp, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PluginClient, PluginSigner, installPlugin, pluginPath } from '../../src/plugin/index.ts';
import { toPem } from '../../src/pki/index.ts';
import { JWS_MEDIA_TYPE, buildPayload, signPayload } from '../../src/signature/index.ts';
import { loadTrustPolicy, selectPolicy, TrustStore, verifySignature } from '../../src/trust/index.ts';
import { SignetError } from '../../src/util/index.ts';
import { makeChain } from '../helpers/pki.ts';
import { runSignet } from '../helpers/serve.ts';

/**
 * A plugin whose answers are whatever the test puts in its answer file: `<command>` → raw JSON
 * text printed on stdout. get-plugin-metadata answers with the name given by NAME_FILE.
 */
function script(answers: string): string {
  return `#!/usr/bin/env node
const fs = require('node:fs');
let input = '';
process.stdin.on('data', (d) => (input += d));
process.stdin.on('end', () => {
  const answers = JSON.parse(fs.readFileSync(${JSON.stringify(answers)}, 'utf8'));
  const a = answers[process.argv[2]];
  if (a === undefined) { process.stderr.write(JSON.stringify({ errorCode: 'VALIDATION_ERROR', errorMessage: 'no answer' })); process.exit(1); }
  process.stdout.write(a);
});
`;
}

const metadata = (name: string, caps = ['SIGNATURE_GENERATOR.RAW']) =>
  JSON.stringify({ name, version: '1.0.0', supportedContractVersions: ['1.0'], capabilities: caps });

describe('plugins: install names and answers are hostile input', () => {
  let work: string;
  let home: string;
  let answers: string;
  let file: string;
  const answer = async (a: Record<string, string>) => writeFile(answers, JSON.stringify(a));

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'signet-plugin-hostile-'));
    home = join(work, 'a', 'b', 'home');
    await mkdir(home, { recursive: true });
    answers = join(work, 'answers.json');
    file = join(work, 'notation-evil');
    await writeFile(file, script(answers));
    await chmod(file, 0o755);
  });
  afterAll(async () => rm(work, { recursive: true, force: true }));

  it('a name with path separators, "." or ".." is refused before anything is written', async () => {
    for (const name of ['../../x', '..', '.', 'a/b', '../x', '', '-x', 'x\n']) {
      await answer({ 'get-plugin-metadata': metadata(name) });
      const err = await installPlugin(file, { home, name, force: true }).catch((e: unknown) => e);
      expect(err, name).toBeInstanceOf(SignetError);
      expect((err as SignetError).code, name).toBe('USAGE');
    }
    // nothing escaped $SIGNET_HOME/plugins: the tree above home holds only what the test made
    expect((await readdir(join(work, 'a'))).sort()).toEqual(['b']);
    expect((await readdir(join(work, 'a', 'b'))).sort()).toEqual(['home']);
    expect(await readdir(home)).toEqual([]);
    for (const name of ['.', '..', '../x'])
      await expect(pluginPath(name, home)).rejects.toMatchObject({ code: 'USAGE' });
  });

  it('CLI: plugin install --name ../../x exits 2 and writes nothing outside the plugins directory', async () => {
    await answer({ 'get-plugin-metadata': metadata('../../x') });
    const r = await runSignet(['plugin', 'install', '--file', file, '--name', '../../x', '--force'], {
      env: { SIGNET_HOME: home },
    });
    expect(r.code, r.stderr).toBe(2);
    expect((await readdir(join(work, 'a'))).sort()).toEqual(['b']);
    expect((await readdir(join(work, 'a', 'b'))).sort()).toEqual(['home']);
  });

  it('--force never writes through a plugin directory that is a symbolic link', async () => {
    const elsewhere = join(work, 'elsewhere');
    await mkdir(elsewhere, { recursive: true });
    await mkdir(join(home, 'plugins'), { recursive: true });
    await symlink(elsewhere, join(home, 'plugins', 'evil'));
    await answer({ 'get-plugin-metadata': metadata('evil') });
    await expect(installPlugin(file, { home, name: 'evil', force: true })).rejects.toMatchObject({
      code: 'PLUGIN_INVALID',
    });
    expect(await readdir(elsewhere)).toEqual([]);
    await rm(join(home, 'plugins', 'evil'));
    // a plain name still installs
    expect((await installPlugin(file, { home, name: 'evil' })).name).toBe('evil');
    expect((await stat(join(home, 'plugins', 'evil', 'notation-evil'))).isFile()).toBe(true);
  });

  it('wrongly shaped answers are coded plugin errors, never a TypeError', async () => {
    const client = new PluginClient('evil', file);
    const cases: Array<[string, Record<string, string>]> = [
      ['metadata null', { 'get-plugin-metadata': 'null' }],
      ['metadata array', { 'get-plugin-metadata': '[]' }],
      ['metadata number', { 'get-plugin-metadata': '42' }],
      [
        'metadata capabilities of numbers',
        {
          'get-plugin-metadata': JSON.stringify({
            name: 'evil',
            version: '1',
            supportedContractVersions: ['1.0'],
            capabilities: [1, 2],
          }),
        },
      ],
      ['describe-key null', { 'get-plugin-metadata': metadata('evil'), 'describe-key': 'null' }],
      ['describe-key string', { 'get-plugin-metadata': metadata('evil'), 'describe-key': '"k"' }],
      [
        'generate-signature null',
        {
          'get-plugin-metadata': metadata('evil'),
          'describe-key': JSON.stringify({ keyId: 'k', keySpec: 'EC-256' }),
          'generate-signature': 'null',
        },
      ],
      [
        'generate-signature chain of numbers',
        {
          'get-plugin-metadata': metadata('evil'),
          'describe-key': JSON.stringify({ keyId: 'k', keySpec: 'EC-256' }),
          'generate-signature': JSON.stringify({
            keyId: 'k',
            signature: 'AA==',
            signingAlgorithm: 'ECDSA-SHA-256',
            certificateChain: [5],
          }),
        },
      ],
      [
        'generate-signature signature object',
        {
          'get-plugin-metadata': metadata('evil'),
          'describe-key': JSON.stringify({ keyId: 'k', keySpec: 'EC-256' }),
          'generate-signature': JSON.stringify({
            keyId: 'k',
            signature: {},
            signingAlgorithm: 'ECDSA-SHA-256',
            certificateChain: ['AA=='],
          }),
        },
      ],
    ];
    for (const [what, a] of cases) {
      await answer(a);
      const err = await new PluginSigner(client, 'k').certificateChain().catch((e: unknown) => e);
      expect(err, what).toBeInstanceOf(SignetError);
      expect((err as SignetError).code, what).toMatch(/^PLUGIN_|^CERT_/);
    }
  });

  it('a verification plugin answering null or junk to verify-signature is inconclusive, not a TypeError', async () => {
    const vhome = join(work, 'vhome');
    await mkdir(join(vhome, 'plugins', 'vevil'), { recursive: true });
    await writeFile(join(vhome, 'plugins', 'vevil', 'notation-vevil'), script(answers));
    await chmod(join(vhome, 'plugins', 'vevil', 'notation-vevil'), 0o755);
    const c = await makeChain();
    const dir = join(work, 'store');
    await mkdir(join(dir, 'x509', 'ca', 's'), { recursive: true });
    await writeFile(join(dir, 'x509', 'ca', 's', 'root.pem'), toPem([c.root]));
    const subject = {
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: `sha256:${'9'.repeat(64)}`,
      size: 5,
    };
    const envelope = await signPayload(buildPayload(subject, 'jws'), JWS_MEDIA_TYPE, {
      signer: c.signer,
      extendedAttributes: [{ key: 'io.cncf.notary.verificationPlugin', value: 'vevil', critical: true }],
    });
    const doc = loadTrustPolicy({
      version: '1.0',
      trustPolicies: [
        {
          name: 'p',
          registryScopes: ['*'],
          signatureVerification: { level: 'strict' },
          trustStores: ['ca:s'],
          trustedIdentities: ['*'],
        },
      ],
    });
    const meta = metadata('vevil', ['SIGNATURE_VERIFIER.TRUSTED_IDENTITY', 'SIGNATURE_VERIFIER.REVOCATION_CHECK']);
    for (const bad of ['null', '[]', '"x"', JSON.stringify({ verificationResults: null, processedAttributes: 5 })]) {
      await answer({ 'get-plugin-metadata': meta, 'verify-signature': bad });
      const err = await verifySignature({
        envelope,
        mediaType: JWS_MEDIA_TYPE,
        subject,
        statement: selectPolicy(doc, `a.io/b@${subject.digest}`),
        trustStore: new TrustStore(dir),
        options: { pluginHome: vhome },
      }).catch((e: unknown) => e);
      expect(err, bad).toBeInstanceOf(SignetError);
      expect((err as SignetError).kind, bad).toBe('inconclusive');
    }
  });
});
