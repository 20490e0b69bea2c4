/**
 * Select All (Ctrl+A, Cmd+A on macOS) in a webview text field, done inside the webview.
 *
 * Why: VS Code's webview preload (src/vs/workbench/contrib/webview/browser/pre/index.html,
 * handleInnerKeydown, a keydown listener on our window) forwards every keydown to the workbench,
 * whether or not the page called preventDefault. The workbench's Select All keybinding then sends
 * execCommand('selectAll') back into the webview, a few message hops (~15-25 ms) later. The
 * browser has already selected the field's text on the keydown itself, so a character typed right
 * after Ctrl+A replaces the text, the late Select All selects that character, and the next one
 * replaces it: "64" became "4" (issue 14; e2e key trace in docs/reliability.md). Selecting here,
 * synchronously, and stopping the event before it reaches the window removes the round trip.
 * Other keys (and Ctrl+A outside a text field) still go to VS Code.
 */

/** The parts of a keydown event this needs (unit tests pass plain objects). */
export interface SelectAllKey {
  key: string;
  ctrlKey: boolean;
  metaKey: boolean;
  altKey: boolean;
  shiftKey: boolean;
  composedPath(): unknown[];
}

export interface TextControl {
  tagName: string;
  type?: string;
  select(): void;
}

/** Input types whose text can be selected (input.select() selects nothing in the others). */
const TEXT_TYPES = new Set(['', 'text', 'search', 'url', 'tel', 'password', 'email', 'number']);

function textControl(t: unknown): TextControl | undefined {
  if (!t || typeof t !== 'object') return undefined;
  const el = t as Partial<TextControl>;
  if (typeof el.select !== 'function' || typeof el.tagName !== 'string') return undefined;
  const tag = el.tagName.toUpperCase();
  if (tag === 'TEXTAREA') return el as TextControl;
  if (tag === 'INPUT' && TEXT_TYPES.has(String(el.type ?? '').toLowerCase())) return el as TextControl;
  return undefined;
}

/**
 * The text control whose text a Select All key should select, or undefined when the key is not
 * Select All or did not come from a text control. The innermost target counts (composedPath()[0]),
 * so the input inside a vscode-textfield's shadow root is found. On macOS Ctrl+A is "line start".
 */
export function selectAllTarget(e: SelectAllKey, mac: boolean): TextControl | undefined {
  if (e.key.toLowerCase() !== 'a' || e.altKey || e.shiftKey) return undefined;
  if (mac ? !e.metaKey || e.ctrlKey : !e.ctrlKey || e.metaKey) return undefined;
  return textControl(e.composedPath()[0]);
}

/**
 * Undo / Redo in a text field: Ctrl+Z, Ctrl+Shift+Z, Ctrl+Y (Cmd+Z, Cmd+Shift+Z on macOS). VS
 * Code's preload calls preventDefault on these and has the workbench send execCommand('undo')
 * back, the same asynchronous round trip as Select All (a character typed right after Ctrl+Z can
 * be undone instead of the edit before it). Kept from the preload, the browser's own undo of the
 * field runs at once.
 */
export function undoRedoTarget(e: SelectAllKey, mac: boolean): TextControl | undefined {
  if (e.altKey || (mac ? !e.metaKey || e.ctrlKey : !e.ctrlKey || e.metaKey)) return undefined;
  const k = e.key.toLowerCase();
  if (!(k === 'z' || (k === 'y' && !mac && !e.shiftKey))) return undefined;
  return textControl(e.composedPath()[0]);
}

interface KeydownTarget {
  addEventListener(type: 'keydown', listener: (e: KeyboardEvent) => void): void;
}

/**
 * Handles Select All (and keeps Undo/Redo native) in text fields under `doc`. A bubbling listener on the document runs after
 * the field's own handlers and before the window's, so stopPropagation keeps the key from VS Code.
 */
export function handleSelectAllInTextFields(doc: KeydownTarget, mac: boolean): void {
  doc.addEventListener('keydown', (e) => {
    if (undoRedoTarget(e, mac)) {
      e.stopPropagation(); // not preventDefault: the browser's undo of this field is the point
      return;
    }
    const t = selectAllTarget(e, mac);
    if (!t) return;
    e.preventDefault();
    e.stopPropagation();
    t.select();
  });
}

export function isMac(platform: string): boolean {
  return /^Mac|iPhone|iPad/.test(platform);
}
