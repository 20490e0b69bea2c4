/**
 * No import cycles under src/: every import (static, dynamic `import()`, `import type`, `export
 * ... from`) is an edge, as a reader following imports sees them. Walks the real files with
 * TypeScript's own import scanner (ts.preProcessFile), so nothing is hand-parsed.
 */
import * as assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';

const ROOT = path.join(__dirname, '..', '..', 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = path.join(dir, n);
    return statSync(p).isDirectory() ? sourceFiles(p) : /\.tsx?$/.test(n) && !n.endsWith('.d.ts') ? [p] : [];
  });
}

function resolveLocal(from: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined; // packages and node: builtins are not ours
  const base = path.resolve(path.dirname(from), spec);
  for (const c of [base, `${base}.ts`, `${base}.tsx`, path.join(base, 'index.ts')]) if (existsSync(c) && statSync(c).isFile()) return c;
  return undefined;
}

export function importGraph(files: string[]): Map<string, string[]> {
  const g = new Map<string, string[]>();
  for (const f of files) {
    const info = ts.preProcessFile(readFileSync(f, 'utf8'), true, true);
    g.set(f, info.importedFiles.map((i) => resolveLocal(f, i.fileName)).filter((x): x is string => !!x));
  }
  return g;
}

/** Every cycle found by a depth-first walk, each as the list of files from its first file back to it. */
export function findCycles(g: Map<string, string[]>): string[][] {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  const visit = (f: string) => {
    state.set(f, 'open');
    stack.push(f);
    for (const d of g.get(f) ?? []) {
      if (state.get(d) === 'open') cycles.push([...stack.slice(stack.indexOf(d)), d]);
      else if (!state.has(d)) visit(d);
    }
    stack.pop();
    state.set(f, 'done');
  };
  for (const f of g.keys()) if (!state.has(f)) visit(f);
  return cycles;
}

describe('import graph of src/', () => {
  it('finds a cycle when there is one (the walk itself)', () => {
    const g = new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', ['a']]]);
    assert.deepEqual(findCycles(g), [['a', 'b', 'c', 'a']]);
    assert.deepEqual(findCycles(new Map([['a', ['b']], ['b', []], ['c', ['a', 'b']]])), []);
  });

  it('sees type-only and dynamic imports as edges', () => {
    const info = ts.preProcessFile("import type { X } from './x';\nconst m = () => import('./y');\nexport { z } from './z';", true, true);
    assert.deepEqual(info.importedFiles.map((i) => i.fileName).sort(), ['./x', './y', './z']);
  });

  it('has no import cycle', () => {
    const files = sourceFiles(ROOT);
    assert.ok(files.length > 50, `only ${files.length} files found under ${ROOT}`);
    const cycles = findCycles(importGraph(files)).map((c) => c.map((f) => path.relative(ROOT, f)).join(' -> '));
    assert.deepEqual(cycles, []);
  });
});
