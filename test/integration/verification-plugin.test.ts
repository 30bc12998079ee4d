import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toPem } from '../../src/pki/index.ts';
import { JWS_MEDIA_TYPE, buildPayload, signPayload } from '../../src/signature/index.ts';
import { loadTrustPolicy, selectPolicy, TrustStore, verifySignature } from '../../src/trust/index.ts';
import { makeChain } from '../helpers/pki.ts';

/** A verification plugin for the test: its answers depend on the leaf's CN, read from the chain it is sent. */
const SCRIPT = `#!/usr/bin/env node
let input = '';
process.stdin.on('data', (d) => (input += d));
process.stdin.on('end', async () => {
  const { X509Certificate } = await import('node:crypto');
  const req = input ? JSON.parse(input) : {};
  const out = (o) => process.stdout.write(JSON.stringify(o));
  if (process.argv[2] === 'get-plugin-metadata') return out({ name: 'vtest', version: process.env.VTEST_VERSION || '2.1.0', supportedContractVersions: ['1.0'], capabilities: ['SIGNATURE_VERIFIER.TRUSTED_IDENTITY', 'SIGNATURE_VERIFIER.REVOCATION_CHECK'] });
  if (process.argv[2] !== 'verify-signature') { process.stderr.write(JSON.stringify({ errorCode: 'VALIDATION_ERROR', errorMessage: 'unknown command' })); process.exit(1); }
  const cn = new X509Certificate(Buffer.from(req.signature.certificateChain[0], 'base64')).subject.match(/CN=([^\\n]+)/)[1];
  const results = {};
  for (const cap of req.trustPolicy.signatureVerification) {
    if (cap === 'SIGNATURE_VERIFIER.TRUSTED_IDENTITY') results[cap] = cn === 'denied' ? { success: false, reason: 'identity ' + cn + ' is not in the allow list' } : { success: true };
    if (cap === 'SIGNATURE_VERIFIER.REVOCATION_CHECK' && cn !== 'no-revocation-answer') results[cap] = cn === 'revoked' ? { success: false, reason: 'revoked by the plugin' } : { success: true };
  }
  const processed = cn === 'lazy' ? [] : req.signature.unprocessedAttributes;
  out({ verificationResults: results, processedAttributes: processed });
});
`;

describe('verification plugins (notary-spec §12.2 and §12.8)', () => {
  let work: string;
  let home: string;
  let store: TrustStore;
  const subject = {
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    digest: `sha256:${'9'.repeat(64)}`,
    size: 5,
  };

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'signet-vplugin-'));
    home = join(work, 'home');
    await mkdir(join(home, 'plugins', 'vtest'), { recursive: true });
    await writeFile(join(home, 'plugins', 'vtest', 'notation-vtest'), SCRIPT);
    await chmod(join(home, 'plugins', 'vtest', 'notation-vtest'), 0o755);
  });
  afterAll(async () => rm(work, { recursive: true, force: true }));

  async function run(
    cn: string,
    opts: { minVersion?: string; plugin?: string; level?: string; noPluginAttr?: boolean } = {}
  ) {
    const c = await makeChain({ leafSubject: `CN=${cn},O=Signet Test,ST=WA,C=US` });
    const dir = join(work, `store-${cn}-${Math.random().toString(36).slice(2)}`);
    await mkdir(join(dir, 'x509', 'ca', 's'), { recursive: true });
    await writeFile(join(dir, 'x509', 'ca', 's', 'root.pem'), toPem([c.root]));
    store = new TrustStore(dir);
    const attrs = [
      ...(opts.noPluginAttr
        ? []
        : [{ key: 'io.cncf.notary.verificationPlugin', value: opts.plugin ?? 'vtest', critical: true }]),
      ...(opts.minVersion
        ? [{ key: 'io.cncf.notary.verificationPluginMinVersion', value: opts.minVersion, critical: true }]
        : []),
      { key: 'com.example.policyTag', value: 'gold', critical: true },
    ];
    const envelope = await signPayload(buildPayload(subject, 'jws'), JWS_MEDIA_TYPE, {
      signer: c.signer,
      extendedAttributes: attrs,
    });
    const doc = loadTrustPolicy({
      version: '1.0',
      trustPolicies: [
        {
          name: 'p',
          registryScopes: ['*'],
          signatureVerification: { level: opts.level ?? 'strict' },
          trustStores: ['ca:s'],
          trustedIdentities: ['x509.subject: CN=nobody,O=Signet Test,ST=WA,C=US'],
        },
      ],
    });
    return verifySignature({
      envelope,
      mediaType: JWS_MEDIA_TYPE,
      subject,
      statement: selectPolicy(doc, `a.io/b@${subject.digest}`),
      trustStore: store,
      options: { pluginHome: home },
    });
  }

  it('the plugin decides the trusted identity and revocation, and processes the critical attributes', async () => {
    const ok = await run('approved');
    expect(ok.verified, JSON.stringify(ok.results)).toBe(true);
    // the policy's identity (CN=nobody) would have refused this signer: the plugin took that check
    const denied = await run('denied');
    expect(denied.verified).toBe(false);
    expect(denied.results.find((r) => !r.ok)).toMatchObject({
      type: 'authenticity',
      message: expect.stringMatching(/not in the allow list/),
    });
    const audited = await run('denied', { level: 'audit' });
    expect(audited.verified).toBe(true);
    const revoked = await run('revoked');
    expect(revoked.results.find((r) => !r.ok)).toMatchObject({
      type: 'revocation',
      message: expect.stringMatching(/revoked by the plugin/),
    });
  });

  it('critical attributes the plugin does not process fail integrity', async () => {
    const r = await run('lazy');
    expect(r.verified).toBe(false);
    expect(r.results.find((x) => !x.ok)?.message).toMatch(/did not process the critical attribute/);
  });

  it('a missing plugin, a too-old plugin, or a missing result is inconclusive', async () => {
    await expect(run('approved', { plugin: 'absent' })).rejects.toMatchObject({ kind: 'inconclusive' });
    await expect(run('approved', { minVersion: '3.0.0' })).rejects.toThrow(/older than the required 3.0.0/);
    expect((await run('approved', { minVersion: '2.0.0' })).verified).toBe(true);
    await expect(run('no-revocation-answer')).rejects.toThrow(/no result for SIGNATURE_VERIFIER.REVOCATION_CHECK/);
  });

  it('without the plugin attribute, an unknown critical attribute fails integrity', async () => {
    const r = await run('approved', { noPluginAttr: true });
    expect(r.results[0]).toMatchObject({
      type: 'integrity',
      ok: false,
      message: expect.stringMatching(/unknown critical attribute com.example.policyTag/),
    });
  });
});
