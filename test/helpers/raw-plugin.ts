import { chmod, writeFile } from 'node:fs/promises';
import type { KeyObject, X509Certificate } from 'node:crypto';
import { installPlugin } from '../../src/plugin/index.ts';

/**
 * A raw-signature Notary plugin (SIGNATURE_GENERATOR.RAW, the plugin protocol over stdin/stdout)
 * holding one EC P-256 key and its chain — an HSM or KMS as Signet sees one — written to `file`
 * and installed under `home` as `name`.
 */
export async function installRawPlugin(
  file: string,
  home: string,
  name: string,
  key: KeyObject,
  chain: X509Certificate[]
): Promise<void> {
  await writeFile(
    file,
    `#!/usr/bin/env node
const crypto = require('node:crypto');
const key = crypto.createPrivateKey(${JSON.stringify(key.export({ format: 'pem', type: 'pkcs8' }))});
const chain = ${JSON.stringify(chain.map((c) => Buffer.from(c.raw).toString('base64')))};
let input = '';
process.stdin.on('data', (d) => (input += d));
process.stdin.on('end', () => {
  const req = input ? JSON.parse(input) : {};
  const out = (o) => process.stdout.write(JSON.stringify(o));
  switch (process.argv[2]) {
    case 'get-plugin-metadata':
      return out({ name: ${JSON.stringify(name)}, version: '1.0.0', supportedContractVersions: ['1.0'], capabilities: ['SIGNATURE_GENERATOR.RAW'] });
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
  await installPlugin(file, { home });
}
