import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { SIGNATURE_ARTIFACT_TYPE } from '../../src/signature/index.ts';
import { fetchAll, fetchManifest, openTarget } from '../../src/store/index.ts';
import { verify } from '../../src/verify/index.ts';
import { runSignet, type Served } from '../helpers/serve.ts';
import { layerA, type LayerA } from '../helpers/layer-a.ts';

// Issue 10, Layer A (see freshness-layer-a.test.ts for the attacks): a mirror under another
// registry name, a layout's name from the policy, and the bytes plain notation reads.
describe('Layer A freshness: mirrors, layouts without a name, what notation reads', () => {
  let t: LayerA;
  let work: string;
  let store: string;
  let serve: Served;
  let dist: LayerA['dist'];
  beforeAll(async () => {
    t = await layerA('signet-layer-a-mirror-');
    ({ work, store, serve, dist } = t);
  }, 60_000);
  afterAll(async () => t?.close());
  const policy: LayerA['policy'] = (...a) => t.policy(...a);
  const home: LayerA['home'] = () => t.home();
  const lib: LayerA['lib'] = (...a) => t.lib(...a);
  const cli: LayerA['cli'] = (...a) => t.cli(...a);
  const checkOf: LayerA['checkOf'] = (...a) => t.checkOf(...a);
  const signAs: LayerA['signAs'] = (...a) => t.signAs(...a);
  const push: LayerA['push'] = (...a) => t.push(...a);
  const copyTag: LayerA['copyTag'] = (...a) => t.copyTag(...a);

  it('a signed image copied to a mirror under another registry name verifies with a names mapping, not without', async () => {
    const src = `${serve.host}/acme/web`;
    const mirror = `${dist.host}/mirror/acme/web`;
    await push(src, '2', 'web release 2');
    await signAs(`${src}:2`);
    await copyTag(src, mirror, '2');
    const mapped = await policy({ names: { [`${dist.host}/mirror/acme/*`]: 'acme/*' } });
    const ok = await lib(`${mirror}:2`, mapped);
    expect(ok.verdict, JSON.stringify(ok.requirements)).toBe('verified');
    expect(checkOf(ok, 'name-binding')?.reason).toMatch(/signed for acme\/web:2/);
    const r = await cli(`${mirror}:2`, await policy(), home());
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/name-binding check failed: signed for the name acme\/web, not mirror\/acme\/web/);
    // a layout copy: the name comes from a names entry keyed oci:<glob>, never from the layout
    const dir = join(work, 'airgap-web');
    await copyTag(src, `oci:${dir}`, '2');
    const viaLayout = await policy({ names: { [`oci:${join(work, 'airgap-*')}`]: 'acme/web' } });
    expect((await lib(`oci:${dir}:2`, viaLayout)).verdict).toBe('verified');
    const none = await cli(`oci:${dir}:2`, await policy(), home());
    expect(none.code).toBe(1);
    expect(none.stdout).toMatch(/name-binding check failed: a layout has no repository name: give --name/);
  });

  it('a layout signed without --name carries no binding, and the CLI says so', async () => {
    const dir = join(work, 'unnamed');
    await push(`oci:${dir}`, 'v1', 'unnamed layout');
    const [r] = await signAs(`oci:${dir}:v1`);
    expect(r!.binding).toBeUndefined();
    expect(r!.warnings.join('\n')).toMatch(/no name binding written: .* give --name NAME/);
    const signed = await runSignet(['sign', `oci:${dir}:v1`, '--name', 'acme/unnamed'], {
      env: { SIGNET_HOME: join(work, 'home') },
    });
    expect(signed.code, signed.stderr).toBe(0);
    expect(signed.stderr).toMatch(/bound to acme\/unnamed:v1 seq \d+/);
  });

  it('the binding is in the JWS payload targetArtifact.annotations, where notation reads user metadata', async () => {
    const ref = `${serve.host}/acme/bytes`;
    const subject = await push(ref, '3', 'bytes release');
    await signAs(`${ref}:3`);
    const { target } = await openTarget(`${ref}:3`);
    const [sigDesc] = await target.referrers(subject, SIGNATURE_ARTIFACT_TYPE);
    const { manifest } = await fetchManifest(target, sigDesc!);
    const layer = (manifest as { layers: Array<{ mediaType: string; digest: string; size: number }> }).layers[0]!;
    expect(layer.mediaType).toBe('application/jose+json');
    const jws = JSON.parse(Buffer.from(await fetchAll(target, layer)).toString()) as { payload: string };
    await target.close();
    const payload = JSON.parse(Buffer.from(jws.payload, 'base64url').toString()) as {
      targetArtifact: { digest: string; annotations: Record<string, string> };
    };
    expect(payload.targetArtifact.digest).toBe(subject.digest);
    expect(payload.targetArtifact.annotations).toEqual({
      'dev.signet.name': 'acme/bytes',
      'dev.signet.tag': '3',
      'dev.signet.seq': expect.stringMatching(/^[1-9][0-9]*$/),
      'dev.signet.issued': expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
    });
    // notation's own check of such a signature: the plain Notary path (no nameBinding) with user metadata
    const plain = await policy({ nameBinding: undefined });
    const md = (userMetadata: Record<string, string>) =>
      verify(`${ref}:3`, { sources: { trustPolicy: plain, trustStore: store, defaults: false }, userMetadata });
    expect((await md({ 'dev.signet.name': 'acme/bytes', 'dev.signet.tag': '3' })).verdict).toBe('verified');
    const bad = await md({ 'dev.signet.name': 'acme/app' });
    expect(bad.verdict).toBe('failed');
    expect(checkOf(bad, 'user-metadata')).toMatchObject({ outcome: 'fail' });
  });
});
