import type { X509Certificate } from 'node:crypto';
import {
  algorithmByKeySpec,
  algorithmInfo,
  certificateFromDer,
  signatureAlgorithmFor,
  validateCodeSigningChain,
  verifyPrimitive,
} from '../pki/index.ts';
import type { Descriptor } from '../oci/index.ts';
import {
  buildPayload,
  JWS_MEDIA_TYPE,
  PAYLOAD_CONTENT_TYPE,
  verifyEnvelopeIntegrity,
  type EnvelopeGenerator,
  type EnvelopeMediaType,
  type GeneratedEnvelope,
  type PrimitiveSigner,
  type SignatureAlgorithm,
} from '../signature/index.ts';
import * as z from 'zod';
import { PluginClient, PluginError, CONTRACT_VERSION } from './client.ts';

// The answers of the plugin contract, validated before any field is read.
const DescribeKeyResponse = z.object({ keyId: z.string(), keySpec: z.string() });
const GenerateSignatureResponse = z.object({
  keyId: z.string(),
  signature: z.string(),
  signingAlgorithm: z.string(),
  certificateChain: z.array(z.string()).max(32),
});
const GenerateEnvelopeResponse = z.object({
  signatureEnvelope: z.string(),
  signatureEnvelopeType: z.string(),
  annotations: z.record(z.string(), z.string()).optional(),
});

/**
 * A signer whose key stays in a plugin (HSM, KMS): `describe-key`, then `generate-signature`
 * (capability SIGNATURE_GENERATOR.RAW). Every answer is checked: the signature must verify with
 * the leaf of the returned chain, with the algorithm the leaf's key dictates.
 */
export class PluginSigner implements PrimitiveSigner {
  private chain: X509Certificate[] | undefined;

  constructor(
    private readonly client: PluginClient,
    private readonly keyId: string,
    private readonly pluginConfig: Record<string, string> = {}
  ) {}

  /** A signing agent suffix as notation writes it: `<plugin>/<version>`. */
  async agent(): Promise<string> {
    const m = await this.client.metadata(this.pluginConfig);
    return `${m.name}/${m.version}`;
  }

  private async describeKey(): Promise<SignatureAlgorithm> {
    const m = await this.client.metadata(this.pluginConfig);
    if (!m.capabilities.includes('SIGNATURE_GENERATOR.RAW'))
      throw new PluginError(
        this.client.name,
        'VALIDATION_ERROR',
        'the plugin cannot generate raw signatures (SIGNATURE_GENERATOR.RAW)'
      );
    const d = await this.client.run(
      'describe-key',
      { contractVersion: CONTRACT_VERSION, keyId: this.keyId, pluginConfig: this.pluginConfig },
      DescribeKeyResponse
    );
    if (d.keyId !== this.keyId)
      throw new PluginError(
        this.client.name,
        'VALIDATION_ERROR',
        `describe-key answered for key ${d.keyId}, not ${this.keyId}`
      );
    const info = algorithmByKeySpec(d.keySpec);
    if (!info)
      throw new PluginError(this.client.name, 'VALIDATION_ERROR', `unsupported keySpec ${JSON.stringify(d.keySpec)}`);
    return info.algorithm;
  }

  private async generate(
    data: Uint8Array,
    algorithm: SignatureAlgorithm
  ): Promise<{ signature: Uint8Array; chain: X509Certificate[] }> {
    const info = algorithmInfo(algorithm);
    const r = await this.client.run(
      'generate-signature',
      {
        contractVersion: CONTRACT_VERSION,
        keyId: this.keyId,
        keySpec: info.keySpec,
        hashAlgorithm: info.hash,
        payload: Buffer.from(data).toString('base64'),
        pluginConfig: this.pluginConfig,
      },
      GenerateSignatureResponse
    );
    if (r.keyId !== this.keyId)
      throw new PluginError(this.client.name, 'VALIDATION_ERROR', `generate-signature answered for key ${r.keyId}`);
    if (!r.certificateChain.length)
      throw new PluginError(this.client.name, 'VALIDATION_ERROR', 'generate-signature returned no certificate chain');
    const chain = r.certificateChain.map((c) => certificateFromDer(c));
    validateCodeSigningChain(chain);
    const leafAlg = signatureAlgorithmFor(chain[0]!);
    if (r.signingAlgorithm !== leafAlg.algorithm || leafAlg.algorithm !== algorithm) {
      throw new PluginError(
        this.client.name,
        'VALIDATION_ERROR',
        `signing algorithm ${r.signingAlgorithm} does not match the certificate key (${leafAlg.algorithm})`
      );
    }
    const signature = Buffer.from(r.signature, 'base64');
    if (!verifyPrimitive(info, chain[0]!.publicKey, data, signature))
      throw new PluginError(
        this.client.name,
        'VALIDATION_ERROR',
        'the signature the plugin returned does not verify with its certificate'
      );
    return { signature, chain };
  }

  async certificateChain(): Promise<X509Certificate[]> {
    if (this.chain) return this.chain;
    // The contract returns the chain with a signature only; one probe signature learns it
    // (the envelope then uses a second, real signature).
    const alg = await this.describeKey();
    this.chain = (await this.generate(Buffer.from('signet: certificate chain probe'), alg)).chain;
    return this.chain;
  }

  async sign(data: Uint8Array, algorithm: SignatureAlgorithm): Promise<Uint8Array> {
    const { signature, chain } = await this.generate(data, algorithm);
    if (this.chain && chain[0]!.fingerprint256 !== this.chain[0]!.fingerprint256)
      throw new PluginError(this.client.name, 'VALIDATION_ERROR', 'the plugin changed its certificate between calls');
    return signature;
  }
}

/**
 * A plugin that builds the whole envelope (capability SIGNATURE_GENERATOR.ENVELOPE). Signet still
 * checks everything it gets back: the envelope type, the signature and chain rules, and that the
 * signed target is the one asked for (a plugin may add annotations, never change a field).
 */
export class PluginEnvelopeGenerator implements EnvelopeGenerator {
  constructor(
    private readonly client: PluginClient,
    private readonly keyId: string,
    private readonly pluginConfig: Record<string, string> = {}
  ) {}

  async generateEnvelope(
    target: Descriptor,
    mediaType: EnvelopeMediaType,
    expirySeconds?: number
  ): Promise<GeneratedEnvelope> {
    const payload = buildPayload(target, mediaType === JWS_MEDIA_TYPE ? 'jws' : 'cose');
    const r = await this.client.run(
      'generate-envelope',
      {
        contractVersion: CONTRACT_VERSION,
        keyId: this.keyId,
        payloadType: PAYLOAD_CONTENT_TYPE,
        signatureEnvelopeType: mediaType,
        payload: Buffer.from(payload).toString('base64'),
        ...(expirySeconds ? { expiryDurationInSeconds: expirySeconds } : {}),
        pluginConfig: this.pluginConfig,
      },
      GenerateEnvelopeResponse
    );
    if (r.signatureEnvelopeType !== mediaType)
      throw new PluginError(
        this.client.name,
        'VALIDATION_ERROR',
        `asked for ${mediaType}, got ${r.signatureEnvelopeType}`
      );
    const envelope = Buffer.from(r.signatureEnvelope, 'base64');
    let content;
    try {
      content = await verifyEnvelopeIntegrity(envelope, mediaType);
    } catch (err) {
      throw new PluginError(
        this.client.name,
        'VALIDATION_ERROR',
        `the envelope it returned is invalid: ${(err as Error).message}`
      );
    }
    const got = content.targetArtifact;
    const sameField = got.mediaType === target.mediaType && got.digest === target.digest && got.size === target.size;
    const keptAnnotations = Object.entries(target.annotations ?? {}).every(([k, v]) => got.annotations?.[k] === v);
    if (!sameField || !keptAnnotations)
      throw new PluginError(
        this.client.name,
        'VALIDATION_ERROR',
        'the envelope signs another target than the one requested'
      );
    const signingTime = content.signerInfo.signingTime ?? content.signerInfo.authenticSigningTime ?? new Date();
    return { envelope, annotations: r.annotations ?? {}, chain: content.signerInfo.certificateChain, signingTime };
  }
}
