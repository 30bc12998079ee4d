import { artifactTypeOf, isImageIndex, isValidDigest, type Descriptor } from '../../oci/index.ts';
import { isSigstoreBundleType } from '../../signature/index.ts';
import type { RegistryStorage } from '../storage.ts';
import { readManifest } from './read.ts';

/** What a referrer is, as far as the web view tells them apart. */
export type NodeKind = 'notary' | 'cosign' | 'simple' | 'sigstore' | 'sbom' | 'attestation' | 'artifact';

export interface TreeNode {
  /** The referrer manifest, with its artifact type and annotations. */
  descriptor: Descriptor;
  /** How it was found: `referrer`, or `tag sha256-<hex>.sig` (cosign's tag scheme). */
  via: string;
  kind: NodeKind;
  /** Its layers (a cosign signature is named by its layer's digest in a report). */
  layers: Descriptor[];
  /** Set when the manifest could not be read or did not match its digest. */
  error?: string;
  children: TreeNode[];
}

export interface Tree {
  nodes: TreeNode[];
  /** More referrers exist than the limits let the page show. */
  truncated: boolean;
}

export const TREE_LIMITS = { depth: 4, nodes: 100 } as const;

// The artifact types of the signature families (the formats in src/signature name the same).
const KIND_BY_TYPE: Record<string, NodeKind> = {
  'application/vnd.cncf.notary.signature': 'notary',
  'application/vnd.dev.cosign.artifact.sig.v1+json': 'cosign',
  'application/vnd.signet.containers.simple-signature.v1': 'simple',
};
const COSIGN_TAG_KINDS: Array<[string, NodeKind]> = [
  ['sig', 'cosign'],
  ['att', 'attestation'],
  ['sbom', 'sbom'],
];

export function kindOf(artifactType: string | undefined): NodeKind {
  const t = artifactType ?? '';
  if (KIND_BY_TYPE[t]) return KIND_BY_TYPE[t];
  if (isSigstoreBundleType(t)) return 'sigstore';
  if (/spdx|cyclonedx|syft|sbom/i.test(t)) return 'sbom';
  if (/in-toto|attestation|provenance/i.test(t)) return 'attestation';
  return 'artifact';
}

export const isSignature = (k: NodeKind): boolean =>
  k === 'notary' || k === 'cosign' || k === 'simple' || k === 'sigstore';

/** A cosign-style tag for `digest` (`sha256-<hex>.sig`). */
export const cosignTag = (digest: string, suffix: string): string => `${digest.replace(':', '-')}.${suffix}`;

/**
 * The referrers graph under `subject` in `repo`: the referrers the store indexed by subject plus
 * cosign's `.sig`/`.att`/`.sbom` tags, recursively (a signature of an SBOM is a child of the SBOM),
 * bounded in depth and in nodes, each manifest read by digest and checked.
 */
export async function referrerTree(
  storage: RegistryStorage,
  repo: string,
  subject: string,
  limits: { depth: number; nodes: number } = TREE_LIMITS
): Promise<Tree> {
  const seen = new Set<string>([subject]);
  let count = 0;
  let truncated = false;

  const below = async (digest: string, depth: number): Promise<TreeNode[]> => {
    const found: Array<{ d: Descriptor; via: string; kind?: NodeKind }> = (await storage.referrers(repo, digest))
      .filter((d) => isValidDigest(d.digest))
      .map((d) => ({ d, via: 'referrer' }));
    for (const [suffix, kind] of COSIGN_TAG_KINDS) {
      const tag = cosignTag(digest, suffix);
      const d = await storage.tagDigest(repo, tag);
      const info = d ? await storage.manifestInfo(repo, d) : null;
      if (d && info)
        found.push({ d: { mediaType: info.mediaType, digest: d, size: info.size }, via: `tag ${tag}`, kind });
    }
    const out: TreeNode[] = [];
    for (const { d, via, kind } of found) {
      if (seen.has(d.digest)) continue;
      if (count >= limits.nodes) {
        truncated = true;
        break;
      }
      seen.add(d.digest);
      count++;
      const node: TreeNode = {
        descriptor: { ...d },
        via,
        kind: kind ?? kindOf(d.artifactType),
        layers: [],
        children: [],
      };
      try {
        const stored = await readManifest(storage, repo, d.digest);
        if (!stored) throw new Error('the manifest is not in this repository');
        const m = stored.manifest;
        if (!isImageIndex(m)) node.layers = m.layers;
        node.descriptor.artifactType ??= artifactTypeOf(m);
        if (m.annotations) node.descriptor.annotations ??= m.annotations;
        if (!kind) node.kind = kindOf(node.descriptor.artifactType);
      } catch (err) {
        node.error = (err as Error).message;
      }
      out.push(node);
    }
    for (const node of out) {
      if (node.error) continue;
      if (depth + 1 < limits.depth) node.children = await below(node.descriptor.digest, depth + 1);
      else if ((await storage.referrers(repo, node.descriptor.digest)).length) truncated = true;
    }
    return out;
  };

  return { nodes: await below(subject, 0), truncated };
}
