import { artifactTypeOf, isImageIndex } from '../../oci/index.ts';
import type { RegistryStorage } from '../storage.ts';
import { decodeLayer, isDecodable, type DecodedLayer, type Section } from './envelope.ts';
import { esc, layout, link, pre, rows, shortDigest } from './html.ts';
import { readBlob, readManifest } from './read.ts';
import type { Page } from './repositories.ts';

const MAX_LAYERS = 8;

function sectionHtml(s: Section): string {
  const inner =
    'json' in s ? pre(JSON.stringify(s.json, null, 2) ?? 'null') : rows(s.rows.map(([k, v]) => [k, esc(v)]));
  return `<h3>${esc(s.title)}</h3>${inner}`;
}

/** A signature manifest's layers decoded (on demand, from the artifact page's tree): nothing here is verified. */
export async function envelopePage(storage: RegistryStorage, repo: string, digest: string): Promise<Page | null> {
  const stored = await readManifest(storage, repo, digest);
  if (!stored) return null;
  const { manifest } = stored;
  const facts: Array<[string, string]> = [
    ['manifest', `<code>${esc(digest)}</code>`],
    ['artifact type', `<code>${esc(artifactTypeOf(manifest) ?? '—')}</code>`],
  ];
  if (manifest.subject)
    facts.push([
      'signs',
      link('/ui/artifact', { repo, digest: manifest.subject.digest }, shortDigest(manifest.subject.digest)),
    ]);
  const layers = isImageIndex(manifest) ? [] : manifest.layers;
  const decoded: string[] = [];
  for (const layer of layers.slice(0, MAX_LAYERS)) {
    let d: DecodedLayer;
    try {
      d = decodeLayer(layer, isDecodable(layer.mediaType) ? await readBlob(storage, repo, layer) : undefined);
    } catch (err) {
      d = { format: 'unreadable', sections: [{ title: 'Error', rows: [[layer.digest, (err as Error).message]] }] };
    }
    decoded.push(
      `<section data-format="${esc(d.format)}"><h2>${esc(d.format)}</h2>${d.sections.map(sectionHtml).join('')}</section>`
    );
  }
  if (layers.length > MAX_LAYERS)
    decoded.push(`<section class="muted">${layers.length - MAX_LAYERS} more layer(s) not shown.</section>`);
  const title = `Signature ${digest.slice(0, 19)}…`;
  const crumbs = [
    link('/ui/repo', { name: repo }, esc(repo)),
    ...(manifest.subject
      ? [
          link(
            '/ui/artifact',
            { repo, digest: manifest.subject.digest },
            esc(`${manifest.subject.digest.slice(0, 19)}…`)
          ),
        ]
      : []),
    'envelope',
  ];
  const body =
    `<section><h1>Decoded signature</h1><p class="muted">Decoded for reading; not verified. The policy verdict is on the artifact's page.</p>${rows(facts)}</section>` +
    (decoded.join('') || '<section class="muted">No layers.</section>');
  return { status: 200, html: layout(title, crumbs, body) };
}
