import type { Descriptor } from '../oci/index.ts';
import type { ReadableTarget } from '../store/index.ts';

/** A node of the referrers graph. */
export interface ReferrerNode {
  digest: string;
  mediaType: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  referrers: ReferrerNode[];
}

/** The referrers graph under `root`, recursively (bounded in depth and size). */
export async function discover(
  target: ReadableTarget,
  root: Descriptor,
  options: { artifactType?: string; maxDepth?: number; maxNodes?: number } = {}
): Promise<ReferrerNode> {
  const maxDepth = options.maxDepth ?? 16;
  const maxNodes = options.maxNodes ?? 10_000;
  let nodes = 0;
  const seen = new Set<string>();
  const walk = async (d: Descriptor, depth: number): Promise<ReferrerNode> => {
    const node: ReferrerNode = { digest: d.digest, mediaType: d.mediaType, size: d.size, referrers: [] };
    if (d.artifactType) node.artifactType = d.artifactType;
    if (d.annotations) node.annotations = d.annotations;
    if (seen.has(d.digest) || depth >= maxDepth || ++nodes > maxNodes) return node;
    seen.add(d.digest);
    // The filter applies to the first level; below it, everything that refers to a match is shown.
    const list = await target.referrers(d, depth === 0 ? options.artifactType : undefined);
    for (const r of list) node.referrers.push(await walk(r, depth + 1));
    return node;
  };
  return walk(root, 0);
}
