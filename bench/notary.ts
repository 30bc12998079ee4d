import { constants, createHash, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeyStore, toPem, type KeyType } from '../src/pki/index.ts';
import { JWS_MEDIA_TYPE, LocalKeySigner, signEnvelope } from '../src/signature/index.ts';
import { sign } from '../src/sign/index.ts';
import { RegistryTarget } from '../src/store/index.ts';
import { loadTrustPolicy, verifyEnvelope } from '../src/trust/index.ts';
import { verifyArtifact } from '../src/verify/index.ts';
import { TrustStore as BenchTrustStore } from '../src/trust/index.ts';
import { pushArtifact } from '../test/helpers/artifacts.ts';
import { startSignet } from './peers.ts';
import { row } from './rows.ts';

function rate(n: number, seconds: number): number {
  return n / seconds;
}

async function timeLoop(seconds: number, fn: () => Promise<unknown> | unknown): Promise<number> {
  const end = process.hrtime.bigint() + BigInt(Math.round(seconds * 1e9));
  let n = 0;
  const t0 = process.hrtime.bigint();
  while (process.hrtime.bigint() < end) {
    await fn();
    n++;
  }
  return rate(n, Number(process.hrtime.bigint() - t0) / 1e9);
}

function rawSign(key: KeyObject, type: KeyType, data: Buffer): Buffer {
  return type.startsWith('ecdsa')
    ? cryptoSign('sha256', data, { key, dsaEncoding: 'ieee-p1363' })
    : cryptoSign('sha384', data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 48 });
}

export async function notarySection(): Promise<void> {
  console.log('\n## Notary Project signatures: envelope work on top of the bare key operation (node:crypto), same run');
  const work = await mkdtemp(join(tmpdir(), 'signet-bench-notary-'));
  try {
    const keys = new KeyStore(join(work, 'home'));
    await keys.generate('root', { type: 'ecdsa-p384', ca: true, subject: 'CN=Bench Root,O=Bench,ST=WA,C=US' });
    const store = join(work, 'truststore');
    await mkdir(join(store, 'x509', 'ca', 'bench'), { recursive: true });
    await writeFile(join(store, 'x509', 'ca', 'bench', 'root.pem'), toPem([(await keys.certificateChain('root'))[0]!]));
    const policy = {
      version: '1.0',
      trustPolicies: [
        {
          name: 'b',
          registryScopes: ['*'],
          signatureVerification: { level: 'strict' },
          trustStores: ['ca:bench'],
          trustedIdentities: ['*'],
        },
      ],
    };
    for (const type of ['ecdsa-p256', 'rsa-3072'] as const) {
      const k = await keys.generate(type, { type, issuer: 'root', subject: `CN=${type},O=Bench,ST=WA,C=US` });
      const signer = new LocalKeySigner(k.privateKey, k.chain);
      const subject = {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: `sha256:${createHash('sha256').update(type).digest('hex')}`,
        size: 1234,
      };
      const data = Buffer.alloc(400, 7);
      const rawSignRate = await timeLoop(2, () => rawSign(k.privateKey, type, data));
      const envSignRate = await timeLoop(2, () => signEnvelope({ target: subject, signer }, JWS_MEDIA_TYPE));
      const sig = rawSign(k.privateKey, type, data);
      const pub = k.chain[0]!.publicKey;
      const rawVerifyRate = await timeLoop(2, () =>
        type.startsWith('ecdsa')
          ? cryptoVerify('sha256', data, { key: pub, dsaEncoding: 'ieee-p1363' }, sig)
          : cryptoVerify('sha384', data, { key: pub, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 48 }, sig)
      );
      const envelope = await signEnvelope({ target: subject, signer }, JWS_MEDIA_TYPE);
      const envVerifyRate = await timeLoop(2, async () => {
        const r = await verifyEnvelope({
          envelope,
          mediaType: JWS_MEDIA_TYPE,
          subject,
          reference: `bench.io/app@${subject.digest}`,
          trustPolicy: policy,
          trustStore: store,
        });
        if (!r.verified) throw new Error('bench envelope did not verify');
      });
      const overhead = (raw: number, env: number): string => `${((raw / env - 1) * 100).toFixed(0)}% on top`;
      console.log(
        `${type.padEnd(11)} sign: node:crypto ${rawSignRate.toFixed(0)}/s, signEnvelope ${envSignRate.toFixed(0)}/s (${overhead(rawSignRate, envSignRate)}); verify: node:crypto ${rawVerifyRate.toFixed(0)}/s, verifyEnvelope ${envVerifyRate.toFixed(0)}/s`
      );
      // Time per operation: verifyEnvelope (JWS, strict policy, trust store on disk) ÷ the bare verify.
      row(
        `verifyEnvelope ${type === 'ecdsa-p256' ? 'ECDSA P-256' : 'RSA-3072'} ÷ bare node:crypto verify`,
        1e6 / envVerifyRate,
        'µs',
        { name: 'node:crypto verify', value: 1e6 / rawVerifyRate },
        { max: 2 }
      );
    }

    // End to end: 200 signed artifacts in signet serve, verified in one process.
    const reg = await startSignet(join(work, 'registry'));
    try {
      const t = new RegistryTarget({ registry: reg.host, repository: 'bench/app' });
      const refs: string[] = [];
      for (let i = 0; i < 200; i++) {
        await pushArtifact(t, `artifact ${i}`, { tag: `v${i}` });
        refs.push(`${reg.host}/bench/app:v${i}`);
      }
      await t.close();
      for (const r of refs) await sign(r, { key: 'ecdsa-p256', keyStore: keys });
      const doc = loadTrustPolicy(policy);
      const t0 = process.hrtime.bigint();
      for (const r of refs) {
        const v = await verifyArtifact(r, [
          { kind: 'trust-policy', document: doc, trustStore: new BenchTrustStore(store) },
        ]);
        if (v.verdict !== 'verified') throw new Error(`${r} did not verify`);
      }
      const secs = Number(process.hrtime.bigint() - t0) / 1e9;
      console.log(
        `signet verify, 200 artifacts against signet serve in one process: ${(200 / secs).toFixed(0)} artifacts/s (${((secs * 1000) / 200).toFixed(1)} ms each)`
      );
    } finally {
      await reg.stop();
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
