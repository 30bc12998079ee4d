import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { tufKey, tufStatus } from '../../src/freshness/index.ts';
import { makeChain } from '../helpers/pki.ts';
import { installRawPlugin } from '../helpers/raw-plugin.ts';
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
    // a raw-signature plugin holding the leaf key (an HSM as Signet sees one)
    await installRawPlugin(join(b.t.work, 'notation-hsm'), b.as.home, 'hsm', chain.leafKey, chain.chain);
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
