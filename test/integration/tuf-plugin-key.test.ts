import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tufKey, tufStatus } from '../../src/freshness/index.ts';
import { installPlugin } from '../../src/plugin/index.ts';
import { makeChain } from '../helpers/pki.ts';
import { layerB, type LayerB } from '../helpers/layer-b.ts';

// Issue 10: TUF keys are Signet key names, local or held by a Notary plugin (an HSM, a KMS). Here
// the online timestamp key lives in a plugin: every timestamp is one generate-signature call, and
// a verifier checks it like any other TUF signature.
describe('Layer B with a plugin-held TUF key', () => {
  let b: LayerB;
  beforeAll(async () => {
    b = await layerB('signet-tuf-plugin-');
  }, 60_000);
  afterAll(async () => b?.close());

  it('the timestamp role signed by a plugin key verifies; its key in root is the leaf the plugin returns', async () => {
    const chain = await makeChain({ leafType: 'ecdsa-p256' });
    const file = join(b.t.work, 'notation-hsm');
    // a raw-signature plugin (the Notary plugin protocol over stdin/stdout) holding the leaf key
    await writeFile(
      file,
      `#!/usr/bin/env node
const crypto = require('node:crypto');
const key = crypto.createPrivateKey(${JSON.stringify(chain.leafKey.export({ format: 'pem', type: 'pkcs8' }))});
const chain = ${JSON.stringify(chain.chain.map((c) => Buffer.from(c.raw).toString('base64')))};
let input = '';
process.stdin.on('data', (d) => (input += d));
process.stdin.on('end', () => {
  const req = input ? JSON.parse(input) : {};
  const out = (o) => process.stdout.write(JSON.stringify(o));
  switch (process.argv[2]) {
    case 'get-plugin-metadata':
      return out({ name: 'hsm', version: '1.0.0', supportedContractVersions: ['1.0'], capabilities: ['SIGNATURE_GENERATOR.RAW'] });
    case 'describe-key':
      return out({ keyId: req.keyId, keySpec: 'EC-256' });
    case 'generate-signature': {
      const sig = crypto.sign('sha256', Buffer.from(req.payload, 'base64'), { key, dsaEncoding: 'ieee-p1363' });
      return out({ keyId: req.keyId, signature: sig.toString('base64'), signingAlgorithm: 'ECDSA-SHA-256', certificateChain: chain });
    }
  }
  process.exit(1);
});
`
    );
    await chmod(file, 0o755);
    await installPlugin(file, { home: b.as.home });
    await b.t.keys.addPluginKey('hsm-ts', { id: 'ts-key-1', pluginName: 'hsm' });

    const tufRef = `${b.t.serve.host}/acme/tuf-hsm:latest`;
    const root = await b.initLib(tufRef, { keys: { root: ['tuf-a'], timestamp: ['hsm-ts'] } });
    const app = `${b.t.serve.host}/acme/hsm-app`;
    await b.t.push(app, '1', 'release with an HSM timestamp');
    await b.t.signAs(`${app}:1`);
    await b.publish(tufRef, `${app}:1`);
    const r = await b.verifyLib(`${app}:1`, await b.policyFor(tufRef, root));
    expect(r.verdict, JSON.stringify(r.requirements)).toBe('verified');
    const { files } = await b.files(tufRef);
    const rootJson = JSON.parse(Buffer.from(files.get('root.json')!).toString()) as {
      signed: { roles: Record<string, { keyids: string[] }> };
    };
    expect(rootJson.signed.roles.timestamp!.keyids).toEqual([tufKey(chain.chain[0]!.publicKey).keyID]);
    // the scheduled job re-signs the timestamp through the plugin as well
    const ts = await b.tuf('timestamp', tufRef);
    expect(ts.code, ts.stdout + ts.stderr).toBe(0);
    expect((await tufStatus(tufRef, b.as)).roles.find((x) => x.role === 'timestamp')!.version).toBe(3);
  });
});
