// The HTML shell of a webview (Monitor, Compare): a strict Content-Security-Policy with a fresh
// nonce per load, the codicon stylesheet, and one bundled script. No `vscode` import, so the
// webview tests load the very same page in Chromium.
import { randomBytes } from 'node:crypto';

export interface WebviewHtmlOptions {
  /** `webview.cspSource`. */
  cspSource: string;
  /** `asWebviewUri(dist/webview/<name>.js)`. */
  scriptUri: string;
  /** `asWebviewUri(dist/webview/codicon.css)`. */
  codiconUri: string;
  title: string;
  nonce?: string;
}

export function newNonce(): string {
  return randomBytes(16).toString('base64').replace(/[^A-Za-z0-9]/g, '');
}

const escapeAttr = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

/**
 * The page's own styles are adopted from the script as a constructable stylesheet (which CSP
 * does not restrict), as are the @vscode-elements components' (lit uses adoptedStyleSheets).
 */
export function webviewHtml(o: WebviewHtmlOptions): string {
  const nonce = o.nonce ?? newNonce();
  const csp = [
    `default-src 'none'`,
    `img-src ${o.cspSource} data:`,
    `style-src ${o.cspSource} 'nonce-${nonce}'`,
    `font-src ${o.cspSource}`,
    `script-src 'nonce-${nonce}'`,
  ].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${escapeAttr(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" id="vscode-codicon-stylesheet" nonce="${nonce}" href="${escapeAttr(o.codiconUri)}">
<title>${escapeAttr(o.title)}</title>
</head>
<body>
<div id="app"></div>
<script nonce="${nonce}" src="${escapeAttr(o.scriptUri)}"></script>
</body>
</html>
`;
}
