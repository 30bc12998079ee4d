import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PluginClient, PluginSigner, installPlugin } from '../../src/plugin/index.ts';
import { toPem } from '../../src/pki/index.ts';
import { COSE_MEDIA_TYPE, JWS_MEDIA_TYPE, signEnvelope } from '../../src/signature/index.ts';
import { verifyEnvelope } from '../../src/trust/index.ts';
import { LayoutTarget } from '../../src/target/index.ts';
import { makeChain } from '../helpers/pki.ts';
import { pushArtifact } from '../helpers/artifacts.ts';
import { runSignet } from '../helpers/serve.ts';

/**
 * A plugin written for the test: a Node script speaking the Notary Project plugin protocol over
 * stdin/stdout. Key ids select behaviours, so every command and error path can be driven.
 */
function pluginScript(name: string, keyPem: string, chainB64: string[], keySpec: string, opts: { metadataName?: string; contract?: string } = {}): string {
  return `#!/usr/bin/env node
const crypto = require('node:crypto');
const key = crypto.createPrivateKey(${JSON.stringify(keyPem)});
const chain = ${JSON.stringify(chainB64)};
let input = '';
process.stdin.on('data', (d) => (input += d));
process.stdin.on('end', () => {
  const cmd = process.argv[2];
  const req = input ? JSON.parse(input) : {};
  const fail = (code, msg) => { process.stderr.write(JSON.stringify({ errorCode: code, errorMessage: msg })); process.exit(1); };
  const id = req.keyId || '';
  if (id.startsWith('err-')) return fail(id.slice(4), 'asked to fail with ' + id.slice(4));
  if (id === 'hang') return setTimeout(() => {}, 60000);
  if (id === 'garbage') { process.stdout.write('not json'); return; }
  if (id === 'crash') { process.stderr.write('segfault-ish'); process.exit(2); }
  switch (cmd) {
    case 'get-plugin-metadata':
      return process.stdout.write(JSON.stringify({ name: ${JSON.stringify(opts.metadataName ?? name)}, description: 'test plugin', version: '1.2.3', url: 'https://example.invalid', supportedContractVersions: [${JSON.stringify(opts.contract ?? '1.0')}], capabilities: ['SIGNATURE_GENERATOR.RAW'] }));
    case 'describe-key':
      return process.stdout.write(JSON.stringify({ keyId: id, keySpec: ${JSON.stringify(keySpec)} }));
    case 'generate-signature': {
      if (req.contractVersion !== '1.0') return fail('UNSUPPORTED_CONTRACT_VERSION', 'want 1.0');
      const data = Buffer.from(req.payload, 'base64');
      const hash = req.hashAlgorithm.replace('-', '').toLowerCase();
      let sig = key.asymmetricKeyType === 'ec' ? crypto.sign(hash, data, { key, dsaEncoding: 'ieee-p1363' }) : crypto.sign(hash, data, { key, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: parseInt(hash.slice(3)) / 8 });
      if (id === 'bad-signature') sig = Buffer.alloc(sig.length, 1);
      const alg = key.asymmetricKeyType === 'ec' ? 'ECDSA-' + req.hashAlgorithm : 'RSASSA-PSS-' + req.hashAlgorithm;
      return process.stdout.write(JSON.stringify({ keyId: id, signature: sig.toString('base64'), signingAlgorithm: alg, certificateChain: chain }));
    }
    default:
      return fail('VALIDATION_ERROR', 'unknown command ' + cmd);
  }
});
`;
}

describe('plugins: the Notary Project plugin protocol', () => {
  let work: string;
  let home: string;
  let chain: Awaited<ReturnType<typeof makeChain>>;
  let store: string;
  const subject = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${'e'.repeat(64)}`, size: 10 };
  const policy = { version: '1.0', trustPolicies: [{ name: 'p', registryScopes: ['*'], signatureVerification: { level: 'strict' }, trustStores: ['ca:p'], trustedIdentities: ['*'] }] };

  async function writePlugin(file: string, opts: Parameters<typeof pluginScript>[4] = {}, name = 'test'): Promise<string> {
    await writeFile(file, pluginScript(name, chain.leafKey.export({ format: 'pem', type: 'pkcs8' }) as string, chain.chain.map((c) => Buffer.from(c.raw).toString('base64')), 'EC-256', opts));
    await chmod(file, 0o755);
    return file;
  }

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'signet-plugin-'));
    home = join(work, 'home');
    chain = await makeChain({ leafType: 'ecdsa-p256' });
    store = join(work, 'store');
    await mkdir(join(store, 'x509', 'ca', 'p'), { recursive: true });
    await writeFile(join(store, 'x509', 'ca', 'p', 'root.pem'), toPem([chain.root]));
    await writePlugin(join(work, 'notation-test'));
  });
  afterAll(async () => rm(work, { recursive: true, force: true }));

  it('installs under $SIGNET_HOME/plugins/<name>/notation-<name>, lists, signs JWS and COSE that verify normally', async () => {
    const meta = await installPlugin(join(work, 'notation-test'), { home });
    expect(meta).toMatchObject({ name: 'test', version: '1.2.3' });
    const client = await PluginClient.open('test', { home });
    for (const mt of [JWS_MEDIA_TYPE, COSE_MEDIA_TYPE] as const) {
      const env = await signEnvelope({ target: subject, signer: new PluginSigner(client, 'release') }, mt);
      const r = await verifyEnvelope({ envelope: env, mediaType: mt, subject, reference: `a.io/b@${subject.digest}`, trustPolicy: policy, trustStore: store });
      expect(r.verified, JSON.stringify(r.results)).toBe(true);
    }
  });

  it('CLI: plugin install/list, key add --plugin, sign with the plugin key, verify', async () => {
    const env = { SIGNET_HOME: join(work, 'clihome') };
    expect((await runSignet(['plugin', 'install', '--file', join(work, 'notation-test')], { env })).stdout).toContain('Installed plugin test 1.2.3');
    expect((await runSignet(['plugin', 'list'], { env })).stdout).toMatch(/test\s+1\.2\.3\s+SIGNATURE_GENERATOR\.RAW/);
    expect((await runSignet(['key', 'add', 'hsm', '--plugin', 'test', '--id', 'release', '--default'], { env })).code).toBe(0);
    const dir = join(work, 'layout');
    const t = await LayoutTarget.open(dir, { create: true });
    await pushArtifact(t, 'signed by a plugin', { tag: 'v1' });
    const signed = await runSignet(['sign', `oci:${dir}:v1`, '--signature-format', 'cose'], { env });
    expect(signed.code, signed.stderr).toBe(0);
    await writeFile(join(work, 'policy.json'), JSON.stringify(policy));
    const v = await runSignet(['verify', `oci:${dir}:v1`, '--policy', join(work, 'policy.json'), '--trust-store', store], { env });
    expect(v.code, v.stdout + v.stderr).toBe(0);
    // and the explicit form
    expect((await runSignet(['sign', `oci:${dir}:v1`, '--plugin', 'test', '--id', 'release'], { env })).code).toBe(0);
    expect((await runSignet(['sign', `oci:${dir}:v1`, '--plugin', 'test'], { env })).code).toBe(2);
  });

  it.each(['VALIDATION_ERROR', 'UNSUPPORTED_CONTRACT_VERSION', 'ACCESS_DENIED', 'THROTTLED', 'ERROR', 'TIMEOUT'])('the plugin error code %s reaches the caller', async (code) => {
    const client = await PluginClient.open('test', { home });
    await expect(signEnvelope({ target: subject, signer: new PluginSigner(client, `err-${code}`) }, JWS_MEDIA_TYPE)).rejects.toMatchObject({ pluginCode: code, kind: 'inconclusive' });
  });

  it('a hung plugin times out; garbage, crashes and bad signatures are refused', async () => {
    const slow = new PluginClient('test', (await PluginClient.open('test', { home })).path, 500);
    await expect(signEnvelope({ target: subject, signer: new PluginSigner(slow, 'hang') }, JWS_MEDIA_TYPE)).rejects.toMatchObject({ pluginCode: 'TIMEOUT' });
    const client = await PluginClient.open('test', { home });
    await expect(signEnvelope({ target: subject, signer: new PluginSigner(client, 'garbage') }, JWS_MEDIA_TYPE)).rejects.toThrow(/printed no valid JSON/);
    await expect(signEnvelope({ target: subject, signer: new PluginSigner(client, 'crash') }, JWS_MEDIA_TYPE)).rejects.toThrow(/segfault-ish/);
    await expect(signEnvelope({ target: subject, signer: new PluginSigner(client, 'bad-signature') }, JWS_MEDIA_TYPE)).rejects.toThrow(/does not verify with its certificate/);
  });

  it('refuses a plugin whose metadata names another plugin, one without contract 1.0, and symbolic links', async () => {
    await expect(installPlugin(await writePlugin(join(work, 'notation-liar'), { metadataName: 'someone-else' }, 'liar'), { home })).rejects.toThrow(/names the plugin "someone-else"/);
    await expect(installPlugin(await writePlugin(join(work, 'notation-old'), { contract: '0.9' }, 'old'), { home })).rejects.toThrow(/does not support contract 1.0/);
    await mkdir(join(home, 'plugins', 'linked'), { recursive: true });
    await symlink(join(work, 'notation-test'), join(home, 'plugins', 'linked', 'notation-linked'));
    await expect(PluginClient.open('linked', { home })).rejects.toThrow(/symbolic links are refused/);
    await expect(PluginClient.open('absent', { home })).rejects.toThrow(/is not installed/);
  });
});
