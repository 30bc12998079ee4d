import * as z from 'zod';
import type { EnvelopeContent } from '../signature/index.ts';
import type { PluginClient } from '../plugin/index.ts';
import type { TrustPolicyStatement } from './policy.ts';

// The plugin machinery (the client, its process handling and its answer schemas) loads only for
// an envelope that names a verification plugin: every other verification would build it for nothing.
const pluginModule = (): Promise<typeof import('../plugin/index.ts')> => import('../plugin/index.ts');

export const VERIFICATION_PLUGIN = 'io.cncf.notary.verificationPlugin';
export const VERIFICATION_PLUGIN_MIN_VERSION = 'io.cncf.notary.verificationPluginMinVersion';
const TRUSTED_IDENTITY = 'SIGNATURE_VERIFIER.TRUSTED_IDENTITY';
const REVOCATION_CHECK = 'SIGNATURE_VERIFIER.REVOCATION_CHECK';

export interface LoadedVerificationPlugin {
  client: PluginClient;
  capabilities: { trustedIdentity: boolean; revocation: boolean };
  /** Every critical extended attribute of the envelope (the plugin must process them all). */
  criticalAttributes: string[];
}

function semver(v: string): number[] | null {
  const m = /^v?(\d+)\.(\d+)\.(\d+)(?:[-+].*)?$/.exec(v);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : null;
}

function atLeast(v: number[], min: number[]): boolean {
  for (let i = 0; i < 3; i++) if (v[i] !== min[i]) return v[i]! > min[i]!;
  return true;
}

/**
 * The pre-check of notary-spec §12.2: when an envelope names a verification plugin, it must be
 * installed, at least the minimum version, and able to verify something. Any problem is
 * inconclusive (it fails whatever the level). Returns undefined for envelopes without a plugin.
 */
/** The verification plugin an envelope names (any value), undefined when it names none. */
export function namedVerificationPlugin(content: EnvelopeContent): unknown {
  return content.signerInfo.extendedAttributes.find((a) => a.key === VERIFICATION_PLUGIN)?.value;
}

export async function loadVerificationPlugin(
  content: EnvelopeContent,
  home?: string
): Promise<LoadedVerificationPlugin | undefined> {
  const attrs = content.signerInfo.extendedAttributes;
  const name = namedVerificationPlugin(content);
  if (name === undefined) return undefined;
  const { PluginClient, PluginError } = await pluginModule();
  if (typeof name !== 'string')
    throw new PluginError(String(name), 'VALIDATION_ERROR', 'verificationPlugin must be a plugin name');
  const client = await PluginClient.open(name, home ? { home } : {}).catch((err: Error) => {
    throw new PluginError(name, 'ERROR', `the signature requires verification plugin ${name}: ${err.message}`);
  });
  const meta = await client.metadata();
  const min = attrs.find((a) => a.key === VERIFICATION_PLUGIN_MIN_VERSION)?.value;
  if (min !== undefined) {
    const have = semver(meta.version);
    const want = semver(String(min));
    if (!have || !want)
      throw new PluginError(
        name,
        'VALIDATION_ERROR',
        `plugin version ${meta.version} or minimum ${String(min)} is not SemVer`
      );
    if (!atLeast(have, want))
      throw new PluginError(
        name,
        'VALIDATION_ERROR',
        `plugin version ${meta.version} is older than the required ${String(min)}`
      );
  }
  const capabilities = {
    trustedIdentity: meta.capabilities.includes(TRUSTED_IDENTITY),
    revocation: meta.capabilities.includes(REVOCATION_CHECK),
  };
  if (!capabilities.trustedIdentity && !capabilities.revocation)
    throw new PluginError(name, 'VALIDATION_ERROR', 'the plugin has no SIGNATURE_VERIFIER capability');
  return { client, capabilities, criticalAttributes: attrs.filter((a) => a.critical).map((a) => a.key) };
}

/** The verify-signature answer (notary-spec §12.8), validated before any field is read. */
const VerifySignatureResponse = z.object({
  verificationResults: z
    .record(z.string(), z.object({ success: z.boolean(), reason: z.string().optional() }))
    .optional(),
  processedAttributes: z.array(z.string()).optional(),
});

export interface PluginVerdict {
  trustedIdentity?: { ok: boolean; message?: string };
  revocation?: { ok: boolean; message?: string };
  /** Critical attributes the plugin did not say it processed. */
  unprocessed: string[];
}

/** `verify-signature` (notary-spec §12.8): the plugin's word on identity and/or revocation. */
export async function runVerificationPlugin(
  p: LoadedVerificationPlugin,
  content: EnvelopeContent,
  statement: TrustPolicyStatement
): Promise<PluginVerdict> {
  const { CONTRACT_VERSION, PluginError } = await pluginModule();
  const si = content.signerInfo;
  const wanted = [
    ...(p.capabilities.trustedIdentity ? [TRUSTED_IDENTITY] : []),
    ...(p.capabilities.revocation && statement.actions.revocation !== 'skip' ? [REVOCATION_CHECK] : []),
  ];
  const extended = Object.fromEntries(si.extendedAttributes.filter((a) => a.critical).map((a) => [a.key, a.value]));
  const response = await p.client.run(
    'verify-signature',
    {
      contractVersion: CONTRACT_VERSION,
      signature: {
        criticalAttributes: {
          contentType: content.payloadContentType,
          signingScheme: si.signingScheme,
          ...(si.expiry ? { expiry: si.expiry.toISOString() } : {}),
          ...(si.authenticSigningTime ? { authenticSigningTime: si.authenticSigningTime.toISOString() } : {}),
          extendedAttributes: extended,
        },
        unprocessedAttributes: p.criticalAttributes,
        certificateChain: si.certificateChain.map((c) => Buffer.from(c.raw).toString('base64')),
      },
      trustPolicy: { trustedIdentities: statement.rawTrustedIdentities, signatureVerification: wanted },
    },
    VerifySignatureResponse
  );
  const results = response.verificationResults ?? {};
  const verdict: PluginVerdict = {
    unprocessed: p.criticalAttributes.filter((a) => !(response.processedAttributes ?? []).includes(a)),
  };
  for (const cap of wanted) {
    const r = results[cap];
    if (!r) throw new PluginError(p.client.name, 'VALIDATION_ERROR', `verify-signature returned no result for ${cap}`);
    const v = r.success
      ? { ok: true }
      : { ok: false, message: `verification plugin ${p.client.name}: ${r.reason ?? `${cap} failed`}` };
    if (cap === TRUSTED_IDENTITY) verdict.trustedIdentity = v;
    else verdict.revocation = v;
  }
  return verdict;
}
