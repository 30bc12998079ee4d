import { discover as discoverGraph, type ReferrerNode } from '../copy/index.ts';
import { openTarget, resolveOpened, type OpenOptions } from '../store/index.ts';

/** `signet discover`: the referrers graph of the artifact a reference names (resolved once). */
export async function discoverReference(
  ref: string,
  options: { artifactType?: string; maxDepth?: number; maxNodes?: number; open?: OpenOptions } = {}
): Promise<{ name: string; tree: ReferrerNode }> {
  const { open, ...rest } = options;
  const opened = await openTarget(ref, open);
  const { target } = opened;
  try {
    const root = await resolveOpened(opened, ref);
    return { name: target.name, tree: await discoverGraph(target, root, rest) };
  } finally {
    await target.close();
  }
}
