import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { parseDigest } from '../../oci/index.ts';
import { SignetError } from '../../util/index.ts';

/** registries.d: where simple signatures of a registry namespace live (containers-registries.d(5)). */
export interface RegistriesD {
  docker: Map<string, { lookaside?: string; lookasideStaging?: string }>;
  defaultDocker?: { lookaside?: string; lookasideStaging?: string };
}

export async function loadRegistriesD(dir: string): Promise<RegistriesD> {
  const out: RegistriesD = { docker: new Map() };
  const files = (await readdir(dir).catch(() => [])).filter((f) => /\.ya?ml$/.test(f)).sort();
  for (const f of files) {
    let doc: { docker?: Record<string, Record<string, string>>; 'default-docker'?: Record<string, string> };
    try {
      doc = (parseYaml(await readFile(join(dir, f), 'utf8')) ?? {}) as typeof doc;
    } catch (err) {
      throw new SignetError('CONFIG_INVALID', `${join(dir, f)}: ${(err as Error).message}`, { kind: 'input' });
    }
    for (const [scope, v] of Object.entries(doc.docker ?? {})) {
      if (out.docker.has(scope)) throw new SignetError('CONFIG_INVALID', `registries.d: scope ${scope} is configured twice`, { kind: 'input' });
      out.docker.set(scope, { ...(v.lookaside ?? v.sigstore ? { lookaside: v.lookaside ?? v.sigstore } : {}), ...(v['lookaside-staging'] ?? v['sigstore-staging'] ? { lookasideStaging: v['lookaside-staging'] ?? v['sigstore-staging'] } : {}) });
    }
    const d = doc['default-docker'];
    if (d) out.defaultDocker = { ...(d.lookaside ?? d.sigstore ? { lookaside: d.lookaside ?? d.sigstore } : {}), ...(d['lookaside-staging'] ? { lookasideStaging: d['lookaside-staging'] } : {}) };
  }
  return out;
}

/** The most specific scope for `host/repo` (host/ns/repo, host/ns, host), else default-docker. */
export function lookasideFor(config: RegistriesD, registry: string, repository: string, write = false): string | undefined {
  const parts = `${registry}/${repository}`.split('/');
  for (let n = parts.length; n >= 1; n--) {
    const e = config.docker.get(parts.slice(0, n).join('/'));
    if (e) return (write ? e.lookasideStaging : undefined) ?? e.lookaside;
  }
  return (write ? config.defaultDocker?.lookasideStaging : undefined) ?? config.defaultDocker?.lookaside;
}

/** `<base>/<repo>@<alg>=<hex>/signature-<n>` */
export function lookasideUrl(base: string, repository: string, digest: string, n: number): string {
  const { algorithm, hex } = parseDigest(digest);
  return `${base.replace(/\/+$/, '')}/${repository}@${algorithm}=${hex}/signature-${n}`;
}

/** Reads signature-1, signature-2, … until the first missing one (file:// or http(s)://; bounded). */
export async function readLookaside(base: string, repository: string, digest: string, max = 64): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (let n = 1; n <= max; n++) {
    const url = lookasideUrl(base, repository, digest, n);
    let data: Uint8Array | undefined;
    if (url.startsWith('file://')) {
      data = await readFile(fileURLToPath(url)).catch(() => undefined);
    } else if (/^https?:\/\//.test(url)) {
      const r = await fetch(url);
      if (r.status === 404) data = undefined;
      else if (!r.ok) throw new SignetError('LOOKASIDE_UNAVAILABLE', `${url}: HTTP ${r.status}`, { kind: 'inconclusive' });
      else data = new Uint8Array(await r.arrayBuffer());
    } else {
      throw new SignetError('CONFIG_INVALID', `lookaside ${base} is neither file:// nor http(s)://`, { kind: 'input' });
    }
    if (!data) break;
    out.push(data);
  }
  return out;
}
