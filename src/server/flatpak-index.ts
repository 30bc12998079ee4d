import type { IncomingMessage, ServerResponse } from 'node:http';
import { isImageIndex, MAX_MANIFEST_SIZE, parseManifest } from '../oci/index.ts';
import type { RegistryStorage } from './storage.ts';

interface ImageEntry {
  Tags: string[];
  Digest: string;
  MediaType: string;
  OS: string;
  Architecture: string;
  Annotations: Record<string, string>;
  Labels: Record<string, string>;
}

// Flatpak names architectures as Go does in image configs; both spellings are accepted in queries.
const ARCH_ALIASES: Record<string, string> = { x86_64: 'amd64', aarch64: 'arm64' };

/**
 * Flatpak's registry index (`GET /index/static?label:org.flatpak.ref:exists=1&architecture=amd64
 * &os=linux&tag=latest`), answered from the image configs' labels: what `flatpak remote-add
 * oci+http://…` reads to list and install apps. Only images matching every filter are listed.
 */
export async function flatpakIndex(storage: RegistryStorage, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://x');
  const tagsWanted = url.searchParams.getAll('tag');
  const archs = url.searchParams.getAll('architecture').map((a) => ARCH_ALIASES[a] ?? a);
  const oses = url.searchParams.getAll('os');
  const labelFilters: Array<{ name: string; exists?: boolean; value?: string }> = [];
  for (const [k, v] of url.searchParams) {
    const m = /^label:(.+?)(?::exists)?$/.exec(k);
    if (!m) continue;
    labelFilters.push(
      k.endsWith(':exists') ? { name: m[1]!, exists: v === '1' || v === 'true' } : { name: m[1]!, value: v }
    );
  }
  const results: Array<{ Name: string; Images: ImageEntry[]; Lists: unknown[] }> = [];
  for (const repo of await storage.listRepositories()) {
    const byDigest = new Map<string, ImageEntry>();
    for (const tag of (await storage.listTags(repo)) ?? []) {
      if (tagsWanted.length && !tagsWanted.includes(tag)) continue;
      const digest = await storage.tagDigest(repo, tag);
      const info = digest ? await storage.manifestInfo(repo, digest) : null;
      if (!digest || !info || info.size > MAX_MANIFEST_SIZE) continue;
      const existing = byDigest.get(digest);
      if (existing) {
        existing.Tags.push(tag);
        continue;
      }
      try {
        const m = parseManifest(await storage.readManifest(digest), info.mediaType);
        if (isImageIndex(m)) continue;
        if ((await storage.blobSize(repo, m.config.digest)) === null || m.config.size > MAX_MANIFEST_SIZE) continue;
        const config = JSON.parse((await storage.readManifest(m.config.digest)).toString('utf8')) as {
          architecture?: string;
          os?: string;
          config?: { Labels?: Record<string, string> };
        };
        const labels = config.config?.Labels ?? {};
        const entry: ImageEntry = {
          Tags: [tag],
          Digest: digest,
          MediaType: info.mediaType,
          OS: config.os ?? '',
          Architecture: config.architecture ?? '',
          Annotations: m.annotations ?? {},
          Labels: labels,
        };
        if (archs.length && !archs.includes(entry.Architecture)) continue;
        if (oses.length && !oses.includes(entry.OS)) continue;
        if (
          !labelFilters.every((f) =>
            f.exists !== undefined ? f.name in labels === f.exists : labels[f.name] === f.value
          )
        )
          continue;
        byDigest.set(digest, entry);
      } catch {
        // not an image with a readable config: not listed
      }
    }
    if (byDigest.size) results.push({ Name: repo, Images: [...byDigest.values()], Lists: [] });
  }
  const body = Buffer.from(JSON.stringify({ Registry: '/', Results: results }));
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(body.length) });
  res.end(body);
}
