import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RunFollower, listRunDirs, readLabel, writeLabel, paramsByDepth, LABEL_FILE } from '../../src/extension/logic/runFolder';
import { treeNodes, comparisonIds, deleteRefusal } from '../../src/extension/logic/runsTreeLogic';
import { writeChartFiles, freeName, decodePng, defaultChartName } from '../../src/extension/logic/saveChart';
import { parseNvidiaSmi } from '../../src/extension/logic/hardware';
import { moveToTrash } from '../../src/extension/logic/trash';
import { readStudy } from '../../src/extension/logic/study';
import { studyCurve } from '../../webview/shared/chartData';
import type { RunSummaryVM } from '../../webview/shared/messages';
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { makeRun, makeStudy } = require('../e2e/fixture.js') as { makeRun: (root: string, name?: string) => string; makeStudy: (root: string, name?: string) => string };

const run = (id: string, group?: string, status = 'done'): RunSummaryVM => ({ id, name: id, status, ...(group ? { group } : {}) });

describe('runs tree: groups, labels, delete, compare, saving, hardware, study', () => {
  let root: string;
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'shapelab-tree-'));
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  it('listRunDirs: runs one level down in a study / experiment folder are listed with their group; symlinked groups are not followed', () => {
    makeRun(root, 'top-run');
    const study = path.join(root, 'study-a');
    fs.mkdirSync(study);
    fs.writeFileSync(path.join(study, 'study.json'), '{"name":"A"}');
    makeRun(study, 'w64-d2');
    makeRun(study, 'w64-d4');
    fs.mkdirSync(path.join(study, 'not a run'));
    fs.symlinkSync(study, path.join(root, 'link-to-study'));
    const es = listRunDirs(root);
    const ids = es.map((e) => e.id).sort();
    assert.deepEqual(ids, ['junk-binary-run', 'study-a:junk-binary-run', 'study-a:w64-d2', 'study-a:w64-d4', 'top-run']);
    const d2 = es.find((e) => e.id === 'study-a:w64-d2')!;
    assert.equal(d2.group, 'study-a');
    assert.equal(d2.dir, path.join(study, 'w64-d2'));
    assert.equal(es.find((e) => e.id === 'top-run')!.group, undefined);
  });

  it('treeNodes: one node per group in list order, ungrouped runs at the top level', () => {
    const n = treeNodes([run('a'), run('s:x', 's'), run('b'), run('s:y', 's'), run('t:z', 't')]);
    assert.deepEqual(n.map((x) => (x.kind === 'group' ? `G ${x.name} ${x.runs.map((r) => r.id).join('+')}` : x.run.id)), ['a', 'G s s:x+s:y', 'b', 'G t t:z']);
  });

  it('comparisonIds: the multi-selection wins over the clicked item; a group is all its runs; no duplicates', () => {
    const g = { kind: 'group' as const, name: 's', runs: [run('s:x', 's'), run('s:y', 's')] };
    const a = { kind: 'run' as const, run: run('a') };
    assert.deepEqual(comparisonIds(a, [a, g, { kind: 'run', run: run('s:x', 's') }]), ['a', 's:x', 's:y']);
    assert.deepEqual(comparisonIds(g, undefined), ['s:x', 's:y']);
    assert.deepEqual(comparisonIds(undefined, []), []);
  });

  it('delete is refused while running', () => {
    assert.match(deleteRefusal(run('a', undefined, 'running'))!, /training: stop it before deleting/);
    for (const s of ['done', 'stopped', 'crashed', 'failed', 'new']) assert.equal(deleteRefusal(run('a', undefined, s)), undefined, s);
  });

  it('labels: stored in label.json in the run folder, one clean line; the folder keeps its name; empty removes it', () => {
    const dir = makeRun(root, 'r1');
    const f = new RunFollower('r1', dir);
    f.poll();
    assert.equal(f.summary().name, 'r1');
    writeLabel(dir, '  baseline\n(width 64)\u0007 ');
    assert.equal(readLabel(dir), 'baseline (width 64)');
    const s = f.summary();
    assert.equal(s.name, 'baseline (width 64)');
    assert.equal(s.folder, 'r1');
    assert.ok(fs.existsSync(dir), 'folder not renamed');
    assert.equal(JSON.parse(fs.readFileSync(path.join(dir, LABEL_FILE), 'utf8')).label, 'baseline (width 64)');
    writeLabel(dir, 'x'.repeat(500));
    assert.equal(readLabel(dir)!.length, 120);
    writeLabel(dir, '   ');
    assert.ok(!fs.existsSync(path.join(dir, LABEL_FILE)));
    fs.writeFileSync(path.join(dir, LABEL_FILE), '{"label": 5}');
    assert.equal(readLabel(dir), undefined, 'a bad label file is ignored');
  });

  it('paramsByDepth: N per depth from the config (for the FLOPs axis), nothing without a full model section', () => {
    const model = { vocabSize: 256, context: 64, dModel: 64, dFf: 256, nLayers: 2, tiedEmbeddings: false };
    // by hand: embeddings 256*64 + 64*64, head 64*256, final LN 2*64; per block 2*64 + 3*64*64 + 3*64 + 64*64 + 64 + 2*64 + 64*256 + 256 + 256*64 + 64
    const perBlock = 128 + 12288 + 192 + 4096 + 64 + 128 + 16384 + 256 + 16384 + 64;
    const fixed = 16384 + 4096 + 16384 + 128;
    assert.deepEqual(paramsByDepth({ model }, [8]), { 2: fixed + 2 * perBlock, 8: fixed + 8 * perBlock });
    assert.equal(paramsByDepth({ model: { dModel: 64 } }, []), undefined);
    assert.equal(paramsByDepth(undefined, []), undefined);
  });

  it('saving a chart writes a real PNG and the CSV beside it, never over an existing CSV', () => {
    // a 1x1 PNG, bytes from the PNG spec's structure (signature, IHDR, IDAT, IEND)
    const png1 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
    fs.writeFileSync(path.join(root, 'loss.csv'), 'mine\n');
    const files = writeChartFiles(path.join(root, 'loss.png'), 'png', `data:image/png;base64,${png1}`, 'step,loss\n1,2\n');
    assert.deepEqual(files.map((f) => path.basename(f)), ['loss.png', 'loss-1.csv']);
    assert.deepEqual([...fs.readFileSync(files[0]).subarray(1, 4)].map((c) => String.fromCharCode(c)).join(''), 'PNG');
    assert.equal(fs.readFileSync(path.join(root, 'loss.csv'), 'utf8'), 'mine\n', 'the existing CSV is untouched');
    assert.equal(fs.readFileSync(files[1], 'utf8'), 'step,loss\n1,2\n');
    assert.throws(() => decodePng('data:image/png;base64,' + Buffer.from('<html>').toString('base64')), /not a PNG/);
    const svg = writeChartFiles(path.join(root, 'chart'), 'svg', '<svg></svg>', 'x\n');
    assert.deepEqual(svg.map((f) => path.basename(f)), ['chart.svg', 'chart.csv']);
    assert.deepEqual(writeChartFiles(path.join(root, 'pts.csv'), 'csv', undefined, 'a\n').map((f) => path.basename(f)), ['pts.csv']);
    assert.equal(freeName(path.join(root, 'new.csv')), path.join(root, 'new.csv'));
    assert.equal(defaultChartName('baseline (w 64)', 'loss', 'png'), 'baseline_w_64_-loss.png');
  });

  it('nvidia-smi lines parse; N/A utilisation reads 0; junk lines are skipped', () => {
    const g = parseNvidiaSmi('NVIDIA H200, 1234, 143771, 87\nNVIDIA H200, 10, 143771, [N/A]\nNo devices were found\n, , ,\n');
    assert.deepEqual(g, [
      { name: 'NVIDIA H200', memUsedMiB: 1234, memTotalMiB: 143771, utilPct: 87 },
      { name: 'NVIDIA H200', memUsedMiB: 10, memTotalMiB: 143771, utilPct: 0 },
    ]);
    assert.deepEqual(parseNvidiaSmi(''), []);
  });

  it('moveToTrash: freedesktop layout (files/ + info/*.trashinfo), a second folder of the same name gets a free name', () => {
    const trash = path.join(root, 'Trash');
    const a = makeRun(path.join(root, 'runs1'), 'same');
    const b = makeRun(path.join(root, 'runs2'), 'same');
    const da = moveToTrash(a, trash);
    const db = moveToTrash(b, trash);
    assert.ok(!fs.existsSync(a) && !fs.existsSync(b));
    assert.deepEqual([path.basename(da), path.basename(db)], ['same', 'same.1']);
    assert.ok(fs.existsSync(path.join(da, 'metrics.jsonl')), 'contents kept');
    const info = fs.readFileSync(path.join(trash, 'info', 'same.1.trashinfo'), 'utf8');
    assert.match(info, /^\[Trash Info\]\nPath=.*runs2\/same\nDeletionDate=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\n$/);
    assert.throws(() => moveToTrash(path.join(root, 'missing'), trash));
    assert.ok(!fs.existsSync(path.join(trash, 'info', 'missing.trashinfo')), 'a failed move leaves no info file');
  });

  it('study: read by the core loader; the fit\'s points and law, else the finished runs; a folder that is no study is an error', () => {
    const dir = makeStudy(root, 'st');
    const law = { E: 1.2, A: 60, alpha: 0.3, B: 80, beta: 0.3 };
    let r = readStudy(dir);
    assert.ok('study' in r, JSON.stringify(r));
    assert.equal(r.study.name, 'fixture grid');
    assert.deepEqual(r.study.law, law);
    // fixture N for width 32, depth 2: embeddings 256*32 + 64*32, 2 blocks of 12*32^2 + 13*32, final norm 2*32, head 32*256
    assert.equal(r.study.points[0].N, 8192 + 2048 + 2 * (12 * 1024 + 13 * 32) + 64 + 8192);
    assert.deepEqual(r.study.points.map((p) => p.run), ['w32-d2', 'w64-d2', 'w64-d4']);
    assert.ok(r.study.points.every((p) => p.D === 102400));
    // no fit yet: every finished run's final eval loss (a failed run is left out)
    fs.rmSync(path.join(dir, 'fit.json'));
    const m = JSON.parse(fs.readFileSync(path.join(dir, 'study.json'), 'utf8'));
    m.runs[1].status = 'failed';
    fs.writeFileSync(path.join(dir, 'study.json'), JSON.stringify(m));
    r = readStudy(dir);
    assert.ok('study' in r);
    assert.equal(r.study.law, undefined);
    assert.deepEqual(r.study.points.map((p) => [p.run, p.loss]), [['w32-d2', m.runs[0].evalLoss], ['w64-d4', m.runs[2].evalLoss]]);
    // a malformed law is not drawn
    fs.writeFileSync(path.join(dir, 'fit.json'), JSON.stringify({ format: 'shapelab-fit', law: { E: 'x' }, points: [] }));
    r = readStudy(dir);
    assert.ok('study' in r && r.study.law === undefined);
    // a hand-made study.json is not a study manifest: an error, no chart
    fs.writeFileSync(path.join(dir, 'study.json'), JSON.stringify({ name: 'tiny grid' }));
    r = readStudy(dir);
    assert.ok('error' in r && /not a ShapeLab study manifest/.test(r.error), JSON.stringify(r));
    // the fit curve: the law along N at the study's D
    const c = studyCurve([{ N: 1000, D: 20 }, { N: 2000, D: 40 }], law, 3);
    assert.ok(Math.abs(c.N[0] - 1000 / 1.5) < 1e-9 && Math.abs(c.N[2] - 3000) < 1e-9);
    const at = (n: number) => 1.2 + 60 / Math.pow(n, 0.3) + 80 / Math.pow(0.02 * n, 0.3);
    c.N.forEach((n, i) => assert.ok(Math.abs(c.loss[i] - at(n)) < 1e-9));
  });
});
