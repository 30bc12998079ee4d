// Family-shaped views of the one engine's report, for tests written against one family at a time:
// every call goes through verifyArtifact with exactly one requirement.
import type { KeyObject } from 'node:crypto';
import { verify, type Check, type VerificationReport } from '../../src/verify/index.ts';

const firstFailure = (checks: Check[]): Check | undefined => checks.find((c) => c.outcome === 'fail');

/** cosign key-based signatures of `ref` by any of `keys` (identity: the repository unless given or `false`). */
export async function verifyCosign(
  ref: string,
  keys: KeyObject[],
  options: { identity?: string | false } = {}
): Promise<{
  verified: boolean;
  report: VerificationReport;
  signatures: Array<{ verified: boolean; reason?: string }>;
}> {
  const { loadRequirements, verifyArtifact } = await import('../../src/verify/index.ts');
  const { requirements } = await loadRequirements({ cosignKeys: keys, defaults: false });
  const req = requirements[0]!;
  if (req.kind === 'cosign-key' && options.identity !== undefined) req.identity = options.identity;
  const report = await verifyArtifact(ref, requirements);
  const signatures = report.signatures
    .filter((s) => s.family === 'cosign')
    .map((s) => {
      const f = firstFailure(s.checks);
      return { verified: s.verdict === 'verified', ...(f ? { reason: f.reason ?? f.name } : {}) };
    });
  return { verified: report.verdict === 'verified', report, signatures };
}

/** A containers policy.json enforced on `ref` (simple signatures from registries.d's lookaside, cosign from the registry). */
export async function verifyContainersPolicy(
  ref: string,
  options: { policy: string; registriesD?: string }
): Promise<{ accepted: boolean; report: VerificationReport; results: Check[] }> {
  const report = await verify(ref, {
    sources: {
      containersPolicy: options.policy,
      defaults: false,
      ...(options.registriesD ? { registriesD: options.registriesD } : {}),
    },
  });
  return {
    accepted: report.verdict === 'verified',
    report,
    results: [...report.requirements.flatMap((r) => r.checks), ...report.signatures.flatMap((s) => s.checks)],
  };
}
