import { discover as discoverGraph, type ReferrerNode } from '../copy/index.ts';
import { openTarget, type OpenOptions } from '../store/index.ts';
import { SignetError } from '../util/index.ts';

/** `signet discover`: the referrers graph of the artifact a reference names (resolved once). */
export async function discoverReference(
  ref: string,
  options: { artifactType?: string; maxDepth?: number; maxNodes?: number; open?: OpenOptions } = {}
): Promise<{ name: string; tree: ReferrerNode }> {
  const { open, ...rest } = options;
  const { target, reference } = await openTarget(ref, open);
  try {
    if (!reference) throw new SignetError('USAGE', `${ref} needs a tag or digest`);
    const root = await target.resolve(reference);
    return { name: target.name, tree: await discoverGraph(target, root, rest) };
  } finally {
    await target.close();
  }
}
