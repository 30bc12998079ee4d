import type { ServerResponse } from 'node:http';

/**
 * The web view's HTML primitives: escaping, links, the page frame and its security headers. Every
 * value that reaches a page goes through `esc` (text and quoted attributes alike); the pages carry
 * no script, and the Content-Security-Policy forbids any.
 */
export const esc = (s: string | number): string => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export const CSP =
  "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cache-control': 'no-store',
};

/** A web view address with its query parameters encoded (escape it with `esc` in an attribute). */
export function href(path: string, params: Record<string, string | undefined> = {}): string {
  const q = Object.entries(params)
    .filter((e): e is [string, string] => e[1] !== undefined)
    .map(([k, v]) => `${k}=${encodeURIComponent(v)}`)
    .join('&');
  return q ? `${path}?${q}` : path;
}

/** `<a>` to a web view page; `html` is markup already escaped. */
export function link(path: string, params: Record<string, string | undefined>, html: string): string {
  return `<a href="${esc(href(path, params))}">${html}</a>`;
}

/** A digest shortened for tables, the full value in its title. */
export function shortDigest(digest: string): string {
  const [alg, hex = ''] = digest.split(':');
  return `<code class="digest" title="${esc(digest)}">${esc(`${alg}:${hex.slice(0, 12)}…`)}</code>`;
}

/** A coloured pill; `kind` picks the colour (a CSS class `b-<kind>`), `data-badge` carries it for tests. */
export function badge(kind: string, text: string, title?: string): string {
  const t = title ? ` title="${esc(title)}"` : '';
  return `<span class="badge b-${esc(kind)}" data-badge="${esc(kind)}"${t}>${esc(text)}</span>`;
}

/** Key/value rows (values are markup already escaped). */
export function rows(entries: Array<[string, string]>): string {
  return `<table class="kv">${entries.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${v}</td></tr>`).join('')}</table>`;
}

export function pre(text: string): string {
  return `<pre>${esc(text)}</pre>`;
}

const STYLE = `
*{box-sizing:border-box}
body{font:14px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1f2328;background:#f6f8fa}
header{background:#24292f;color:#fff;padding:.7em 2em;display:flex;gap:1.5em;align-items:baseline}
header .brand{font-weight:600;font-size:1.1em}
header nav a{color:#c9d1d9}
main{max-width:1150px;margin:1.5em auto;padding:0 2em}
section{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:1em 1.3em;margin-bottom:1.2em}
h1{font-size:1.4em;margin:.2em 0 .6em;word-break:break-all}
h2{font-size:1.15em;margin:.2em 0 .7em}
h3{font-size:.95em;margin:1.1em 0 .4em;color:#57606a}
a{color:#0969da;text-decoration:none}
a:hover{text-decoration:underline}
code,pre{font:12.5px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
code{color:#57606a}
pre{background:#f6f8fa;border:1px solid #d8dee4;border-radius:6px;padding:.8em;overflow:auto;max-height:32em;white-space:pre-wrap;word-break:break-all}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.35em .6em;border-bottom:1px solid #eaeef2;vertical-align:top;word-break:break-word}
thead th{background:#f6f8fa;font-weight:600}
table.kv th{width:13em;color:#57606a;font-weight:500}
.badge{display:inline-block;padding:.05em .6em;border-radius:2em;font-size:12px;font-weight:600;color:#fff;background:#6e7781;white-space:nowrap}
.b-verified,.b-verified-by-index{background:#1a7f37}
.b-failed{background:#cf222e}
.b-inconclusive,.b-error{background:#9a6700}
.b-unsigned{background:#6e7781}
.b-exempt,.b-unevaluated{background:#0969da}
.b-none{background:#eaeef2;color:#57606a}
.b-notary,.b-cosign,.b-simple,.b-layout{background:#8250df}
.b-sbom,.b-attestation{background:#bc4c00}
.b-artifact{background:#57606a}
.muted{color:#57606a}
.why{color:#cf222e}
ul.tree,ul.tree ul{list-style:none;margin:0;padding-left:1.4em}
ul.tree{padding-left:0}
ul.tree ul{border-left:2px solid #d0d7de;margin-left:.5em}
ul.tree li{margin:.45em 0;position:relative}
ul.tree ul>li::before{content:"";position:absolute;left:-1.4em;top:.8em;width:1.1em;border-top:2px solid #d0d7de}
.node{display:flex;flex-wrap:wrap;gap:.5em;align-items:baseline}
.sig{margin:.25em 0 .25em .4em;padding:.3em .6em;border-left:3px solid #d0d7de;background:#f6f8fa;border-radius:0 4px 4px 0}
.sig.v-verified{border-color:#1a7f37}
.sig.v-failed{border-color:#cf222e}
.sig.v-inconclusive{border-color:#9a6700}
.verdict{font-size:1.05em;margin-bottom:.8em}
`;

/** The page frame: a header with breadcrumbs (markup already escaped) and the body. */
export function layout(title: string, crumbs: string[], body: string): string {
  const nav = [link('/', {}, 'Registry'), ...crumbs].join(' › ');
  return (
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="referrer" content="no-referrer">` +
    `<title>${esc(title)} · Signet registry</title><style>${STYLE}</style></head><body>` +
    `<header><span class="brand">Signet registry</span><nav>${nav}</nav></header><main>${body}</main></body></html>`
  );
}

export function send(res: ServerResponse, status: number, html: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', ...SECURITY_HEADERS, ...headers });
  res.end(html);
}

/** A short page for a refusal or an error: a heading and one escaped sentence. */
export function messagePage(title: string, message: string): string {
  return layout(title, [], `<section><h1>${esc(title)}</h1><p>${esc(message)}</p></section>`);
}
