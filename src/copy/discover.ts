import { artifactTypeOf, isNotFound, type Descriptor } from '../oci/index.ts';
import { fetchManifest, type ReadableTarget } from '../store/index.ts';

/** A node of the referrers graph. */
export interface ReferrerNode {
  digest: string;
  mediaType: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  /** How it was found when not as a referrer: cosign's `tag sha256-<hex>.sig` / `.att`. */
  via?: string;
  referrers: ReferrerNode[];
}

const EMPTY_TYPE = 'application/vnd.oci.empty.v1+json';

/** A referrer listed without a type, or as the empty type, typed by its own manifest (read by digest, bounded). */
async function withOwnType(target: ReadableTarget, r: Descriptor): Promise<Descriptor> {
  if (r.artifactType && r.artifactType !== EMPTY_TYPE) return r;
  try {
    const own = artifactTypeOf((await fetchManifest(target, r)).manifest);
    return own ? { ...r, artifactType: own } : r;
  } catch {
    return r; // shown as listed; a manifest that cannot be read is not the listing's fault
  }
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
    // cosign's tag schemes beside the referrers: signatures (.sig) and legacy attestations (.att),
    // looked up while the referrers are listed (three round trips in the time of one).
    const tags = ['sig', 'att'].map((suffix) => `${d.digest.replace(':', '-')}.${suffix}`);
    const [listing, ...tagged] = await Promise.allSettled([
      target.referrers(d),
      ...tags.map((tag) => target.resolve(tag).then((m) => withOwnType(target, m))),
    ]);
    if (listing.status === 'rejected') throw listing.reason;
    // The filter applies to the first level; below it, everything that refers to a match is shown.
    // It is applied here, after each type is known: a listing may give none, or — cosign's
    // tag-schema index — the empty type for a manifest whose own artifactType says what it is.
    for (const listed of listing.value) {
      const r = await withOwnType(target, listed);
      if (depth === 0 && options.artifactType && r.artifactType !== options.artifactType) continue;
      node.referrers.push(await walk(r, depth + 1));
    }
    for (const [i, tag] of tags.entries()) {
      const found = tagged[i]!;
      if (found.status === 'rejected') {
        if (isNotFound(found.reason)) continue;
        throw found.reason;
      }
      const m = found.value;
      if (depth === 0 && options.artifactType && m.artifactType !== options.artifactType) continue;
      node.referrers.push({ ...(await walk(m, depth + 1)), via: `tag ${tag}` });
    }
    return node;
  };
  return walk(root, 0);
}
