// The web view lives in webview/: html.ts (escaping, frame, headers), read.ts (bounded, digest-checked
// reads), tree.ts (referrers graph), verdicts.ts (policy verdicts), envelope.ts (decoding), the pages
// (repositories.ts, artifact.ts, envelope-page.ts) and index.ts (routing, auth, input checks).
export { renderWebView } from './webview/index.ts';
