import * as vscode from 'vscode';
import { makeNonce, page } from './logic/html';
import type { Result } from '../../webview/shared/validate';

/** Webview options: scripts on, and only the extension's dist/ and media/ are loadable. */
export function webviewOptions(extUri: vscode.Uri): vscode.WebviewOptions {
  return {
    enableScripts: true,
    enableCommandUris: false,
    localResourceRoots: [vscode.Uri.joinPath(extUri, 'dist'), vscode.Uri.joinPath(extUri, 'media')],
  };
}

export function webviewHtml(webview: vscode.Webview, extUri: vscode.Uri, o: { title: string; script: string; styles: string[]; body: string }): string {
  const u = (...p: string[]) => webview.asWebviewUri(vscode.Uri.joinPath(extUri, ...p)).toString();
  return page({
    title: o.title,
    cspSource: webview.cspSource,
    nonce: makeNonce(),
    scripts: [u('dist', 'webview', o.script)],
    styles: o.styles.map((s) => u(...s.split('/'))),
    body: o.body,
  });
}

/** Logs rejected webview messages once per kind, rate-limited, without echoing the payload. */
export class RejectLog {
  private count = 0;
  constructor(private out: vscode.OutputChannel, private source: string) {}
  reject(error: string): void {
    this.count++;
    if (this.count <= 20 || this.count % 1000 === 0) this.out.appendLine(`[${this.source}] rejected a webview message (${this.count}): ${error.slice(0, 200)}`);
  }

  /** The gate every webview message passes: counts it (tests read the counts), logs a rejection, returns the valid value. */
  admit<T>(r: Result<T>, counts: { accepted: number; rejected: number }): T | undefined {
    if (!r.ok) {
      counts.rejected++;
      this.reject(r.error);
      return undefined;
    }
    counts.accepted++;
    return r.value;
  }
}
