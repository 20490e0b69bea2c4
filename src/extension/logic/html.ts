/**
 * Webview HTML with a strict Content-Security-Policy: nothing is allowed by default; scripts only
 * with the per-load nonce; styles, fonts and images only from the webview's own resource origin
 * (which `localResourceRoots` limits to the extension's dist/ and media/). No `vscode` import.
 */
import { randomBytes } from 'node:crypto';

export function makeNonce(): string {
  return randomBytes(18).toString('base64').replace(/[+/=]/g, '');
}

export function csp(cspSource: string, nonce: string): string {
  return [
    "default-src 'none'",
    `img-src ${cspSource} data:`,
    `style-src ${cspSource} 'nonce-${nonce}'`,
    `font-src ${cspSource}`,
    `script-src 'nonce-${nonce}'`,
    "connect-src 'none'",
    "frame-src 'none'",
    "form-action 'none'",
    "base-uri 'none'",
  ].join('; ');
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

/** For attribute values in double quotes: single quotes stay readable (CSP keywords). */
export function escapeAttr(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] as string);
}

export interface PageOptions {
  title: string;
  cspSource: string;
  nonce: string;
  /** Already-converted webview URIs (asWebviewUri). */
  scripts: string[];
  styles: string[];
  body: string;
}

export function page(o: PageOptions): string {
  const n = escapeAttr(o.nonce);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${escapeAttr(csp(o.cspSource, o.nonce))}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>${escapeHtml(o.title)}</title>
${o.styles.map((s) => `<link rel="stylesheet" nonce="${n}" href="${escapeAttr(s)}">`).join('\n')}
</head>
<body>
${o.body}
${o.scripts.map((s) => `<script nonce="${n}" src="${escapeAttr(s)}"></script>`).join('\n')}
</body>
</html>`;
}
