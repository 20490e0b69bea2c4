import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { readTextSource, DataSourceError } from '../../src/core/data/sources';
import { loadDataset, splitHeldOut, tokenizeDocs } from '../../src/core/data/dataset';
import { ByteTokenizer, Gpt2Tokenizer } from '../../src/core/data/tokenizers';

function tmpdir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'shapelab-src-'));
}

describe('data/sources', function () {
  this.timeout(20000);
  let root: string;
  before(() => {
    root = tmpdir();
    fs.mkdirSync(path.join(root, 'sub', 'deeper'), { recursive: true });
    fs.mkdirSync(path.join(root, '.git'));
    fs.mkdirSync(path.join(root, 'node_modules', 'x'), { recursive: true });
    fs.writeFileSync(path.join(root, 'a.txt'), 'alpha text\n');
    fs.writeFileSync(path.join(root, 'sub', 'b.md'), '# beta\n');
    fs.writeFileSync(path.join(root, 'sub', 'deeper', 'c.txt'), 'gamma\n');
    fs.writeFileSync(path.join(root, '.git', 'HEAD'), 'ref: x\n');
    fs.writeFileSync(path.join(root, 'node_modules', 'x', 'i.txt'), 'dep\n');
    fs.writeFileSync(path.join(root, 'empty.txt'), '');
    // binary: a NUL byte early on
    fs.writeFileSync(path.join(root, 'image.txt'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0x01, 0x41]));
    // huge: a 3 GiB sparse file (takes no disk, must not be read)
    const fd = fs.openSync(path.join(root, 'huge.txt'), 'w');
    fs.ftruncateSync(fd, 3 * 1024 ** 3);
    fs.closeSync(fd);
    // symlink loops: a folder linking to its ancestor, and a self-referencing link
    fs.symlinkSync('..', path.join(root, 'sub', 'loop'));
    fs.symlinkSync('self.txt', path.join(root, 'self.txt'));
    // a second link to an already-read file
    fs.symlinkSync('a.txt', path.join(root, 'z-link.txt'));
    // a FIFO would block a naive read forever
    try {
      execFileSync('mkfifo', [path.join(root, 'pipe.txt')]);
    } catch {
      /* no mkfifo: that case is skipped */
    }
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  it('folder: reads text files, skips binary/huge/loops/pipes with a summary, never hangs', () => {
    const t0 = Date.now();
    const r = readTextSource(root);
    assert.ok(Date.now() - t0 < 5000);
    assert.deepEqual(
      r.docs.map((d) => d.path),
      ['a.txt', 'sub/b.md', 'sub/deeper/c.txt'],
    );
    const why = Object.fromEntries(r.skipped.map((s) => [s.path, s.reason]));
    assert.equal(why['image.txt'], 'binary');
    assert.equal(why['huge.txt'], 'too-large');
    assert.equal(why['sub/loop'], 'symlink-loop');
    assert.equal(why['self.txt'], 'symlink-loop');
    assert.equal(why['z-link.txt'], 'duplicate');
    if (fs.existsSync(path.join(root, 'pipe.txt'))) assert.equal(why['pipe.txt'], 'not-regular');
    assert.ok(!r.docs.some((d) => d.path.startsWith('.git') || d.path.startsWith('node_modules')));
    assert.match(r.summary, /^read 3 files \(24 B\); skipped \d+ \(/);
    for (const part of ['1 binary', '1 too-large', '2 symlink-loop', '1 duplicate']) assert.ok(r.summary.includes(part), r.summary);
    assert.equal(r.totalBytes, 11 + 7 + 6);
  });

  it('include globs and exclude globs', () => {
    assert.deepEqual(readTextSource(root, { include: ['**/*.md'] }).docs.map((d) => d.path), ['sub/b.md']);
    assert.deepEqual(readTextSource(root, { include: ['*.txt'] }).docs.map((d) => d.path), ['a.txt']);
    assert.deepEqual(readTextSource(root, { include: ['**/*.txt'], exclude: ['sub/**'] }).docs.map((d) => d.path), ['a.txt']);
    const withDeps = readTextSource(root, { include: ['node_modules/**'], noDefaultExcludes: true });
    assert.deepEqual(withDeps.docs.map((d) => d.path), ['node_modules/x/i.txt']);
  });

  it('limits: per-file size, total bytes, file count, depth', () => {
    const small = readTextSource(root, { maxFileBytes: 8 });
    assert.deepEqual(small.docs.map((d) => d.path), ['sub/b.md', 'sub/deeper/c.txt']);
    assert.ok(small.skipped.some((s) => s.path === 'a.txt' && s.reason === 'too-large'));
    const total = readTextSource(root, { maxTotalBytes: 12 });
    assert.equal(total.docs.length, 1);
    assert.ok(total.skipped.some((s) => s.reason === 'total-limit'));
    assert.equal(readTextSource(root, { maxFiles: 2 }).docs.length, 2);
    const shallow = readTextSource(root, { maxDepth: 1 });
    assert.ok(shallow.skipped.some((s) => s.path === 'sub/deeper' && s.reason === 'too-deep'));
  });

  it('single file; clear errors for binary, empty, missing and no-match', () => {
    const r = readTextSource(path.join(root, 'a.txt'));
    assert.equal(r.kind, 'file');
    assert.equal(r.docs[0].text, 'alpha text\n');
    assert.throws(() => readTextSource(path.join(root, 'image.txt')), (e: Error) => e instanceof DataSourceError && /looks binary/.test(e.message));
    assert.throws(() => readTextSource(path.join(root, 'empty.txt')), /is empty/);
    assert.throws(() => readTextSource(path.join(root, 'nope')), /cannot be read/);
    assert.throws(() => readTextSource(path.join(root, 'huge.txt'), { maxTotalBytes: 1 << 20 }), /over the limit/);
    assert.throws(() => readTextSource(root, { include: ['**/*.rs'] }), /no readable text files matching \*\*\/\*\.rs/);
  });

  it('user dataset: tokenized in sorted order, last 5% held out, deterministic', () => {
    const d = loadDataset({ source: 'folder', path: root, tokenizer: 'byte', include: ['**/*.txt', '**/*.md'] });
    const all = Buffer.from('alpha text\n\n\n# beta\n\n\ngamma\n');
    assert.equal(d.train.length + d.val.length, all.length);
    assert.deepEqual(Buffer.from([...d.train, ...d.val]), all);
    assert.equal(d.val.length, Math.max(1, Math.floor(all.length * 0.05)));
    assert.ok(d.skipped.length > 0);
    assert.throws(() => loadDataset({ source: 'file', path: root, tokenizer: 'byte' }), /is a folder/);
    assert.throws(() => loadDataset({ source: 'folder', tokenizer: 'byte' }), /data.path is required/);
  });

  it('splitHeldOut and gpt2 document separators', () => {
    const s = splitHeldOut(Uint16Array.from({ length: 100 }, (_, i) => i), 0.1);
    assert.equal(s.train.length, 90);
    assert.equal(s.val[0], 90);
    assert.throws(() => splitHeldOut(new Uint16Array(10), 0), /valFraction/);
    const g = tokenizeDocs(new Gpt2Tokenizer(), ['Hello', 'world']);
    assert.deepEqual([...g], [15496, 50256, 6894]);
    assert.deepEqual([...tokenizeDocs(new ByteTokenizer(), ['a', 'b'])], [97, 10, 10, 98]);
  });
});
