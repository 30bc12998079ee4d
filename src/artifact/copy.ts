import { stat } from 'node:fs/promises';
import {
  carryTuf,
  checkCopyReferences,
  checkTufReference,
  copyGraph,
  copyTargets,
  type CopyRefOptions,
  type CopyReport,
} from '../copy/index.ts';
import { carrySimpleSignatures } from '../sign/index.ts';
import { loadRegistriesD, type RegistriesD } from '../signature/index.ts';
import type { Descriptor } from '../oci/index.ts';
import { openTarget, type OpenedTarget, type Target } from '../store/index.ts';
import { SignetError } from '../util/index.ts';

export interface CopyArtifactOptions extends CopyRefOptions {
  /**
   * containers registries.d (a directory or loaded): simple signatures in the source's lookaside
   * travel as referrers, and are written to the destination's lookaside when it has one.
   */
  registriesD?: string | RegistriesD;
  /**
   * Repositories (`registry/path`) holding signatures of the artifact in another place (cosign's
   * COSIGN_REPOSITORY): their referrers of the artifact's digest are copied beside the copy, where
   * they become its referrers.
   */
  referrersFrom?: string[];
}

export interface CopyArtifactReport extends CopyReport {
  /** The destination store's name. */
  destination: string;
  simpleSignatures?: { attached: number; written: number };
}

/**
 * `signet copy SRC DST`: the artifact with its whole referrers graph, between registries,
 * layout directories and tars. Every argument is checked before anything is opened; a missing
 * source creates no destination; both ends are closed on every path.
 */
export async function copyArtifact(
  srcRef: string,
  dstRef: string,
  options: CopyArtifactOptions = {}
): Promise<CopyArtifactReport> {
  const { open, registriesD: rdOption, tuf, referrersFrom = [], ...copyOptions } = options;
  const plan = checkCopyReferences(srcRef, dstRef);
  if (tuf !== undefined) checkTufReference(tuf);
  let registriesD: RegistriesD | undefined;
  if (typeof rdOption === 'string') {
    if (
      !(await stat(rdOption).then(
        (s) => s.isDirectory(),
        () => false
      ))
    ) {
      throw new SignetError('USAGE', `registries.d ${rdOption} is not a directory`);
    }
    registriesD = await loadRegistriesD(rdOption);
  } else registriesD = rdOption;
  const src = await openTarget(plan.src, open);
  let dst: OpenedTarget<Target> | undefined;
  try {
    if (!src.reference) throw new SignetError('USAGE', `source ${srcRef} needs a tag or digest`);
    await src.target.resolve(src.reference); // a missing source creates no destination
    dst = await openTarget(plan.dst, { ...open, create: true });
    const report: CopyArtifactReport = {
      ...(await copyTargets(src.target, src.reference, dst.target, plan.dst.tag, copyOptions)),
      destination: dst.target.name,
    };
    if (registriesD) report.simpleSignatures = await carrySimpleSignatures(src, dst, report.root, registriesD);
    for (const repo of referrersFrom) report.referrers += await carryReferrersFrom(repo, report.root, dst.target, open);
    // Layer B: the TUF repository beside the release, tagged `tuf` (docs/freshness.md, air gap)
    if (tuf !== undefined) report.tuf = await carryTuf(tuf, dst.target, open);
    return report;
  } finally {
    await src.target.close();
    await dst?.target.close();
  }
}

/** Copies what `repository` holds as referrers of `subject` into `dst` (each with its own graph); returns how many. */
async function carryReferrersFrom(
  repository: string,
  subject: Descriptor,
  dst: Target,
  open: CopyArtifactOptions['open']
): Promise<number> {
  const from = await openTarget(repository, open);
  try {
    const listed = await from.target.referrers(subject);
    for (const r of listed)
      await copyGraph(from.target, dst, { mediaType: r.mediaType, digest: r.digest, size: r.size });
    return listed.length;
  } finally {
    await from.target.close();
  }
}
