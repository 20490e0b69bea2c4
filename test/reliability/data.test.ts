/**
 * Issue 7, input 4, through the CLI: `shapelab train --data FOLDER` on a folder with binary files,
 * a huge (sparse) file, symlink loops and a FIFO trains and prints the skip summary; a folder with
 * nothing usable fails with one clear line and exit code 2 (a user-input problem, like bad flags).
 */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { assertOneLine, buildOnce, checkJsonl, runDirIn, shapelabSync, tmpDir } from './helpers';

function hostile(dir: string, withText: boolean): void {
  fs.mkdirSync(path.join(dir, 'sub'), { recursive: true });
  if (withText) {
    const para = 'The quick brown fox jumps over the lazy dog, and the dog does not mind at all.\n';
    fs.writeFileSync(path.join(dir, 'a.txt'), para.repeat(80));
    fs.writeFileSync(path.join(dir, 'sub', 'b.md'), '# notes\n' + para.repeat(40));
  }
  fs.writeFileSync(path.join(dir, 'image.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0x01, 0x41, 0x00]));
  fs.writeFileSync(path.join(dir, 'model.bin'), Buffer.alloc(4096));
  const fd = fs.openSync(path.join(dir, 'huge.txt'), 'w'); // 3 GiB, sparse: must not be read
  fs.ftruncateSync(fd, 3 * 1024 ** 3);
  fs.closeSync(fd);
  fs.symlinkSync('..', path.join(dir, 'sub', 'loop'));
  fs.symlinkSync('self.txt', path.join(dir, 'self.txt'));
  fs.symlinkSync('b.txt', path.join(dir, 'a-loop.txt'));
  fs.symlinkSync('a-loop.txt', path.join(dir, 'b.txt'));
  try {
    execFileSync('mkfifo', [path.join(dir, 'pipe.txt')]);
  } catch {
    /* no mkfifo here */
  }
}

describe('reliability: user data folders through the CLI', function () {
  this.timeout(120_000);
  const dirs: string[] = [];
  after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
  before(() => buildOnce());

  it('binary, huge, symlink loops, FIFO: trains on the text files and prints the skip summary', () => {
    const d = tmpDir('data');
    dirs.push(d);
    const data = path.join(d, 'corpus');
    hostile(data, true);
    const t0 = Date.now();
    const r = shapelabSync(['train', '--data', data, '--steps', '2', '--ep', 'cpu', '--out', path.join(d, 'runs')], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(Date.now() - t0 < 30_000);
    const line = r.stderr.split('\n').find((l) => l.includes('read 2 files'));
    assert.ok(line, r.stderr);
    assert.match(line!, /read 2 files \([\d.]+ KiB\); skipped \d+ \(/);
    for (const part of ['2 binary', '1 too-large', 'symlink-loop']) assert.ok(line!.includes(part), line);
    const ev = checkJsonl(path.join(runDirIn(path.join(d, 'runs'))!, 'events.jsonl')).records;
    assert.deepEqual([ev.at(-1)!.type, ev.at(-1)!.step], ['done', 2]);
    assert.match(String(ev[0].data), /skipped/);
  });

  it('nothing usable (only binary, huge, loops): one clear stderr line, exit code 2, no stack trace', () => {
    const d = tmpDir('data');
    dirs.push(d);
    const data = path.join(d, 'junk');
    hostile(data, false);
    const r = shapelabSync(['train', '--data', data, '--steps', '2', '--ep', 'cpu', '--out', path.join(d, 'runs')], { timeoutMs: 60_000 });
    assert.equal(r.code, 2, r.stderr);
    assertOneLine(r.stderr, /data folder .*junk has no readable text files .*read 0 files \(0 B\); skipped \d+ \((?=.*binary)(?=.*too-large)(?=.*symlink-loop)/);
    assert.equal(r.stdout, '');
    assert.ok(!fs.existsSync(path.join(d, 'runs')), 'a run folder was created for unusable data');
  });
});
