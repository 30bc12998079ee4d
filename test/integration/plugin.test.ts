import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PluginClient, PluginSigner, installPlugin } from '../../src/plugin/index.ts';
import { toPem } from '../../src/pki/index.ts';
import { COSE_MEDIA_TYPE, JWS_MEDIA_TYPE, signEnvelope } from '../../src/signature/index.ts';
import { verifyEnvelope } from '../../src/trust/index.ts';
import { LayoutTarget } from '../../src/store/index.ts';
import { makeChain } from '../helpers/pki.ts';
import { pushArtifact } from '../helpers/artifacts.ts';
import { runSignet } from '../helpers/serve.ts';

/**
 * A plugin written for the test: a Node script speaking the Notary Project plugin protocol over
 * stdin/stdout. Key ids select behaviours, so every command and error path can be driven.
 */
function pluginScript(
  name: string,
  keyPem: string,
  chainB64: string[],
  keySpec: string,
  opts: { metadataName?: string; contract?: string } = {}
): string {
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

/** An ENVELOPE-capability plugin: builds a Notary JWS itself (key ids choose honest or lying answers). */
function envelopePluginScript(keyPem: string, chainB64: string[]): string {
  return `#!/usr/bin/env node
let input = '';
process.stdin.on('data', (d) => (input += d));
process.stdin.on('end', async () => {
  const crypto = await import('node:crypto');
  const req = input ? JSON.parse(input) : {};
  const out = (o) => process.stdout.write(JSON.stringify(o));
  if (process.argv[2] === 'get-plugin-metadata') return out({ name: 'envtest', version: '1.0.0', supportedContractVersions: ['1.0'], capabilities: ['SIGNATURE_GENERATOR.ENVELOPE'] });
  if (process.argv[2] !== 'generate-envelope') { process.stderr.write(JSON.stringify({ errorCode: 'VALIDATION_ERROR', errorMessage: 'unsupported' })); process.exit(1); }
  const key = crypto.createPrivateKey(${JSON.stringify(keyPem)});
  let payload = Buffer.from(req.payload, 'base64');
  if (req.keyId === 'liar') payload = Buffer.from(payload.toString().replace(/"size":\\d+/, '"size":1'));
  const b64u = (b) => Buffer.from(b).toString('base64url');
  const now = new Date(Math.floor(Date.now() / 1000) * 1000).toISOString().replace('.000Z', 'Z');
  const hdr = { alg: 'ES256', crit: ['io.cncf.notary.signingScheme'], cty: req.payloadType, 'io.cncf.notary.signingScheme': 'notary.x509', 'io.cncf.notary.signingTime': now };
  const p = b64u(JSON.stringify(hdr));
  const pl = b64u(payload);
  const sig = crypto.sign('sha256', Buffer.from(p + '.' + pl), { key, dsaEncoding: 'ieee-p1363' });
  const env = { payload: pl, protected: p, header: { x5c: ${JSON.stringify(chainB64)} }, signature: b64u(sig) };
  out({ signatureEnvelope: Buffer.from(JSON.stringify(env)).toString('base64'), signatureEnvelopeType: req.signatureEnvelopeType, annotations: { 'org.example.signed-by': 'envtest' } });
});
`;
}

describe('plugins: the Notary Project plugin protocol', () => {
  let work: string;
  let home: string;
  let chain: Awaited<ReturnType<typeof makeChain>>;
  let store: string;
  const subject = {
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    digest: `sha256:${'e'.repeat(64)}`,
    size: 10,
  };
  const policy = {
    version: '1.0',
    trustPolicies: [
      {
        name: 'p',
        registryScopes: ['*'],
        signatureVerification: { level: 'strict' },
        trustStores: ['ca:p'],
        trustedIdentities: ['*'],
      },
    ],
  };

  async function writePlugin(
    file: string,
    opts: Parameters<typeof pluginScript>[4] = {},
    name = 'test'
  ): Promise<string> {
    await writeFile(
      file,
      pluginScript(
        name,
        chain.leafKey.export({ format: 'pem', type: 'pkcs8' }) as string,
        chain.chain.map((c) => Buffer.from(c.raw).toString('base64')),
        'EC-256',
        opts
      )
    );
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
      const r = await verifyEnvelope({
        envelope: env,
        mediaType: mt,
        subject,
        reference: `a.io/b@${subject.digest}`,
        trustPolicy: policy,
        trustStore: store,
      });
      expect(r.verified, JSON.stringify(r.results)).toBe(true);
    }
  });

  it('CLI: plugin install/list, key add --plugin, sign with the plugin key, verify', async () => {
    const env = { SIGNET_HOME: join(work, 'clihome') };
    expect((await runSignet(['plugin', 'install', '--file', join(work, 'notation-test')], { env })).stdout).toContain(
      'Installed plugin test 1.2.3'
    );
    expect((await runSignet(['plugin', 'list'], { env })).stdout).toMatch(/test\s+1\.2\.3\s+SIGNATURE_GENERATOR\.RAW/);
    expect(
      (await runSignet(['key', 'add', 'hsm', '--plugin', 'test', '--id', 'release', '--default'], { env })).code
    ).toBe(0);
    const dir = join(work, 'layout');
    const t = await LayoutTarget.open(dir, { create: true });
    await pushArtifact(t, 'signed by a plugin', { tag: 'v1' });
    const signed = await runSignet(['sign', `oci:${dir}:v1`, '--signature-format', 'cose'], { env });
    expect(signed.code, signed.stderr).toBe(0);
    await writeFile(join(work, 'policy.json'), JSON.stringify(policy));
    const v = await runSignet(
      ['verify', `oci:${dir}:v1`, '--policy', join(work, 'policy.json'), '--trust-store', store],
      { env }
    );
    expect(v.code, v.stdout + v.stderr).toBe(0);
    // and the explicit form
    expect((await runSignet(['sign', `oci:${dir}:v1`, '--plugin', 'test', '--id', 'release'], { env })).code).toBe(0);
    expect((await runSignet(['sign', `oci:${dir}:v1`, '--plugin', 'test'], { env })).code).toBe(2);
  });

  it.each(['VALIDATION_ERROR', 'UNSUPPORTED_CONTRACT_VERSION', 'ACCESS_DENIED', 'THROTTLED', 'ERROR', 'TIMEOUT'])(
    'the plugin error code %s reaches the caller',
    async (code) => {
      const client = await PluginClient.open('test', { home });
      await expect(
        signEnvelope({ target: subject, signer: new PluginSigner(client, `err-${code}`) }, JWS_MEDIA_TYPE)
      ).rejects.toMatchObject({ pluginCode: code, kind: 'inconclusive' });
    }
  );

  it('a hung plugin times out; garbage, crashes and bad signatures are refused', async () => {
    const slow = new PluginClient('test', (await PluginClient.open('test', { home })).path, 500);
    await expect(
      signEnvelope({ target: subject, signer: new PluginSigner(slow, 'hang') }, JWS_MEDIA_TYPE)
    ).rejects.toMatchObject({ pluginCode: 'TIMEOUT' });
    const client = await PluginClient.open('test', { home });
    await expect(
      signEnvelope({ target: subject, signer: new PluginSigner(client, 'garbage') }, JWS_MEDIA_TYPE)
    ).rejects.toThrow(/printed no valid JSON/);
    await expect(
      signEnvelope({ target: subject, signer: new PluginSigner(client, 'crash') }, JWS_MEDIA_TYPE)
    ).rejects.toThrow(/segfault-ish/);
    await expect(
      signEnvelope({ target: subject, signer: new PluginSigner(client, 'bad-signature') }, JWS_MEDIA_TYPE)
    ).rejects.toThrow(/does not verify with its certificate/);
  });

  it('generate-envelope: the plugin builds the envelope, Signet checks it and stores it with the plugin annotations', async () => {
    const dir = join(work, 'envplugin');
    await mkdir(dir, { recursive: true });
    const file = join(dir, 'notation-envtest');
    await writeFile(
      file,
      envelopePluginScript(
        chain.leafKey.export({ format: 'pem', type: 'pkcs8' }) as string,
        chain.chain.map((c) => Buffer.from(c.raw).toString('base64'))
      )
    );
    await chmod(file, 0o755);
    const env = { SIGNET_HOME: join(work, 'envhome') };
    expect((await runSignet(['plugin', 'install', '--file', file], { env })).code).toBe(0);
    const layout = join(work, 'envlayout');
    const t = await LayoutTarget.open(layout, { create: true });
    await pushArtifact(t, 'enveloped by a plugin', { tag: 'v1' });
    const ok = await runSignet(['sign', `oci:${layout}:v1`, '--plugin', 'envtest', '--id', 'honest'], { env });
    expect(ok.code, ok.stderr).toBe(0);
    await writeFile(join(work, 'policy.json'), JSON.stringify(policy));
    const v = await runSignet(
      ['verify', `oci:${layout}:v1`, '--policy', join(work, 'policy.json'), '--trust-store', store],
      { env }
    );
    expect(v.code, v.stdout + v.stderr).toBe(0);
    const d = await runSignet(['discover', `oci:${layout}:v1`, '-o', 'json'], { env });
    expect(JSON.parse(d.stdout).referrers[0].annotations['org.example.signed-by']).toBe('envtest');
    const liar = await runSignet(['sign', `oci:${layout}:v1`, '--plugin', 'envtest', '--id', 'liar'], { env });
    expect(liar.code).toBe(3);
    expect(liar.stderr).toMatch(/signs another target than the one requested/);
  });

  it('refuses a plugin whose metadata names another plugin, one without contract 1.0, and symbolic links', async () => {
    await expect(
      installPlugin(await writePlugin(join(work, 'notation-liar'), { metadataName: 'someone-else' }, 'liar'), { home })
    ).rejects.toThrow(/names the plugin "someone-else"/);
    await expect(
      installPlugin(await writePlugin(join(work, 'notation-old'), { contract: '0.9' }, 'old'), { home })
    ).rejects.toThrow(/does not support contract 1.0/);
    await mkdir(join(home, 'plugins', 'linked'), { recursive: true });
    await symlink(join(work, 'notation-test'), join(home, 'plugins', 'linked', 'notation-linked'));
    await expect(PluginClient.open('linked', { home })).rejects.toThrow(/symbolic links are refused/);
    await expect(PluginClient.open('absent', { home })).rejects.toThrow(/is not installed/);
  });
});
