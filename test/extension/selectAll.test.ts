import { strict as assert } from 'node:assert';
import { handleSelectAllInTextFields, isMac, selectAllTarget, undoRedoTarget, type SelectAllKey } from '../../webview/shared/selectAll';

// Plain objects stand in for DOM elements and events (the repository has no DOM shim); the
// e2e check 'Ctrl+A in a planner field selects its text at once ...' covers the real browser.
const el = (tagName: string, type?: string) => ({ tagName, type, selected: 0, select() { this.selected++; } });
const key = (k: string, mods: Partial<SelectAllKey>, target: unknown): SelectAllKey & { prevented: boolean; stopped: boolean; preventDefault(): void; stopPropagation(): void } => ({
  key: k, ctrlKey: false, metaKey: false, altKey: false, shiftKey: false, ...mods,
  // the inner <input> of a vscode-textfield comes first, then its shadow root and the host element
  composedPath: () => [target, { nodeType: 11 }, el('VSCODE-TEXTFIELD')],
  prevented: false, stopped: false,
  preventDefault() { this.prevented = true; },
  stopPropagation() { this.stopped = true; },
});

describe('Select All inside webview text fields (issue 14)', () => {
  it('Ctrl+A (Linux, Windows) and Cmd+A (macOS) in a text input select that input, also with Caps Lock', () => {
    const input = el('INPUT', 'text');
    assert.equal(selectAllTarget(key('a', { ctrlKey: true }, input), false), input);
    assert.equal(selectAllTarget(key('A', { ctrlKey: true }, input), false), input);
    assert.equal(selectAllTarget(key('a', { metaKey: true }, input), true), input);
    const area = el('TEXTAREA');
    assert.equal(selectAllTarget(key('a', { ctrlKey: true }, area), false), area);
  });

  it('other keys and chords go on to VS Code', () => {
    const input = el('INPUT', 'text');
    assert.equal(selectAllTarget(key('a', {}, input), false), undefined);
    assert.equal(selectAllTarget(key('c', { ctrlKey: true }, input), false), undefined);
    assert.equal(selectAllTarget(key('a', { ctrlKey: true, shiftKey: true }, input), false), undefined);
    assert.equal(selectAllTarget(key('a', { ctrlKey: true, altKey: true }, input), false), undefined);
    assert.equal(selectAllTarget(key('a', { metaKey: true }, input), false), undefined, 'Meta+A is not Select All off macOS');
    assert.equal(selectAllTarget(key('a', { ctrlKey: true }, input), true), undefined, 'Ctrl+A is line start on macOS');
  });

  it('Ctrl+A outside a text field (table, checkbox, range slider) keeps VS Code\'s Select All', () => {
    for (const t of [el('TH'), el('INPUT', 'checkbox'), el('INPUT', 'range'), el('VSCODE-BUTTON'), { nodeType: 9 }]) {
      assert.equal(selectAllTarget(key('a', { ctrlKey: true }, t), false), undefined, JSON.stringify(t));
    }
  });

  it('the document listener selects the field and stops the key before the window (where VS Code listens)', () => {
    let listener: ((e: KeyboardEvent) => void) | undefined;
    handleSelectAllInTextFields({ addEventListener: (_t, l) => { listener = l; } }, false);
    const input = el('INPUT', '');
    const e = key('a', { ctrlKey: true }, input);
    listener!(e as unknown as KeyboardEvent);
    assert.deepEqual([input.selected, e.prevented, e.stopped], [1, true, true]);
    const typed = key('6', {}, input);
    listener!(typed as unknown as KeyboardEvent);
    assert.deepEqual([input.selected, typed.prevented, typed.stopped], [1, false, false]);
  });

  it('Undo/Redo in a text field stays with the browser (stopped before VS Code, not prevented); elsewhere they go on', () => {
    const input = el('INPUT', 'text');
    for (const [k, mods, mac] of [['z', { ctrlKey: true }, false], ['Z', { ctrlKey: true, shiftKey: true }, false], ['y', { ctrlKey: true }, false], ['z', { metaKey: true }, true], ['z', { metaKey: true, shiftKey: true }, true]] as const) {
      assert.equal(undoRedoTarget(key(k, mods, input), mac), input, `${k} ${JSON.stringify(mods)} mac ${mac}`);
    }
    assert.equal(undoRedoTarget(key('y', { metaKey: true }, input), true), undefined, 'Cmd+Y is not redo on macOS');
    assert.equal(undoRedoTarget(key('z', { ctrlKey: true }, input), true), undefined);
    assert.equal(undoRedoTarget(key('z', { ctrlKey: true, altKey: true }, input), false), undefined);
    assert.equal(undoRedoTarget(key('z', { ctrlKey: true }, el('INPUT', 'checkbox')), false), undefined);
    let listener: ((e: KeyboardEvent) => void) | undefined;
    handleSelectAllInTextFields({ addEventListener: (_t, l) => { listener = l; } }, false);
    const e = key('z', { ctrlKey: true }, input);
    listener!(e as unknown as KeyboardEvent);
    assert.deepEqual([input.selected, e.prevented, e.stopped], [0, false, true]);
    const table = key('z', { ctrlKey: true }, el('TD'));
    listener!(table as unknown as KeyboardEvent);
    assert.deepEqual([table.prevented, table.stopped], [false, false]);
  });

  it('isMac reads navigator.platform', () => {
    assert.equal(isMac('MacIntel'), true);
    assert.equal(isMac('Linux x86_64'), false);
    assert.equal(isMac('Win32'), false);
  });
});
