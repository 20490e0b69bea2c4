// Fabricates a finished run folder (docs/run-format.md) with eval points and one growth event,
// so the monitor can be checked (and photographed) independently of the trainer.
// Usage: node fixture.js <runsFolder> [name]
const fs = require('fs');
const path = require('path');
function makeRun(root, name = 'fixture-growth-run', steps = 400, growthAt = 160) {
  const dir = path.join(root, name);
  fs.mkdirSync(path.join(dir, 'checkpoints'), { recursive: true });
  const t0 = Date.UTC(2026, 0, 1);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ preset: 'fixture', steps, shape: { dModel: 64, nLayers: 8, nHeads: 4 }, parameterization: 'completep', executionProvider: { asked: 'cpu', used: 'cpu' } }, null, 2));
  const m = [];
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648 - 0.5);
  for (let s = 1; s <= steps; s++) {
    const depth = s < growthAt ? 2 : 8;
    const base = 2.2 + 8.5 / Math.sqrt(s + 3) - (s >= growthAt ? 0.25 * (1 - Math.exp(-(s - growthAt) / 40)) : 0);
    const row = { step: s, tokens: s * 4096, loss: +(base + 0.18 * rnd()).toFixed(4), lr: s < 40 ? 3e-3 * s / 40 : 3e-3 * (0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI * (s - 40) / (steps - 40)))), tokensPerSec: (depth === 2 ? 52000 : 17000) + 1500 * rnd(), tflops: (depth === 2 ? 0.9 : 1.1) + 0.05 * rnd(), gradNorm: 1 + 0.3 * rnd(), time: t0 + s * 250, depth };
    if (s % 50 === 0) row.evalLoss = +(base + 0.05).toFixed(4);
    m.push(JSON.stringify(row));
  }
  fs.writeFileSync(path.join(dir, 'metrics.jsonl'), m.join('\n') + '\n' + '{"step": 401, "loss": 3.1'); // torn last line
  const ev = [
    { type: 'start', step: 0, tokens: 0, time: t0 },
    { type: 'eval', step: 50, tokens: 50 * 4096, time: t0 + 50 * 250 },
    { type: 'growth', step: growthAt, tokens: growthAt * 4096, time: t0 + growthAt * 250, depthBefore: 2, depthAfter: 8, operator: 'G_stack', multiplierPolicy: 'rescale', optimizerPolicy: 'copy', lrPolicy: 'continue', lossBefore: 3.1, lossesAfter: [3.3, 3.2] },
    { type: 'checkpoint', step: 200, tokens: 200 * 4096, time: t0 + 200 * 250 },
    { type: 'done', step: steps, tokens: steps * 4096, time: t0 + steps * 250 },
  ];
  fs.writeFileSync(path.join(dir, 'events.jsonl'), ev.map((e) => JSON.stringify(e)).join('\n') + '\n');
  // and a run folder full of junk that must be skipped, not crash anything
  const junk = path.join(root, 'junk-binary-run');
  fs.mkdirSync(junk, { recursive: true });
  fs.writeFileSync(path.join(junk, 'metrics.jsonl'), Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 97) % 256)));
  fs.writeFileSync(path.join(junk, 'events.jsonl'), '\u0000\u0001not json\n{"type": 5}\n');
  try { fs.symlinkSync(root, path.join(junk, 'loop')); } catch { /* exists */ }
  return dir;
}

// A study folder as `shapelab study` and `shapelab fit` write it (study.json: format
// 'shapelab-study'; fit.json: format 'shapelab-fit'), with runs of three shapes whose eval losses
// follow the law in fit.json, so the comparison view has measured points and a fit curve to draw.
function makeStudy(root, name = 'fixture-study') {
  const dir = path.join(root, name);
  fs.mkdirSync(dir, { recursive: true });
  const law = { E: 1.2, A: 60, alpha: 0.3, B: 80, beta: 0.3 };
  const shapes = [[32, 2], [64, 2], [64, 4]];
  const t0 = Date.UTC(2026, 0, 2);
  const D = 200 * 512;
  const entries = [];
  for (const [w, d] of shapes) {
    const label = `w${w}-d${d}`;
    const run = path.join(dir, label);
    fs.mkdirSync(run, { recursive: true });
    const model = { vocabSize: 256, context: 64, dModel: w, nLayers: d, nHeads: 2, dFf: 4 * w, tiedEmbeddings: false };
    fs.writeFileSync(path.join(run, 'config.json'), JSON.stringify({ version: 1, label, model, parameterization: 'completep', batchSize: 8, steps: 200 }, null, 2));
    const block = 2 * w + 3 * w * w + 3 * w + w * w + w + 2 * w + w * 4 * w + 4 * w + 4 * w * w + w;
    const N = 256 * w + 64 * w + d * block + 2 * w + w * 256;
    const rows = [];
    for (let s = 1; s <= 200; s++) {
      const Ds = s * 512;
      const loss = law.E + law.A / Math.pow(N, law.alpha) + law.B / Math.pow(Ds, law.beta);
      const row = { step: s, tokens: Ds, loss: +(loss + 0.03 * Math.sin(s)).toFixed(4), lr: 1e-3, gradNorm: 1, tokensPerSec: 20000, tflops: 0.1, time: t0 + s * 100, depth: d };
      if (s % 20 === 0) row.evalLoss = +loss.toFixed(4);
      rows.push(JSON.stringify(row));
    }
    fs.writeFileSync(path.join(run, 'metrics.jsonl'), rows.join('\n') + '\n');
    fs.writeFileSync(path.join(run, 'events.jsonl'), [{ type: 'start', step: 0, time: t0 }, { type: 'done', step: 200, time: t0 + 20000 }].map((e) => JSON.stringify(e)).join('\n') + '\n');
    const evalLoss = +(law.E + law.A / Math.pow(N, law.alpha) + law.B / Math.pow(D, law.beta)).toFixed(4);
    entries.push({ id: label, label, dModel: w, nLayers: d, nHeads: 2, dFf: 4 * w, params: N, tokens: D, tokensPerParam: D / N, steps: 200, status: 'done', dir: label, predictedSeconds: 20, seconds: 20, evalLoss });
  }
  const request = { widths: [32, 64], depths: [2, 4], tpp: 20, tppSpread: 1, steps: 200, context: 64, batchSize: 8, parameterization: 'completep', base: {}, data: { source: 'brown', tokenizer: 'byte' }, ep: 'cpu', seed: 1, evalBatches: 4, name: 'fixture grid', minutes: null };
  fs.writeFileSync(path.join(dir, 'study.json'), JSON.stringify({ format: 'shapelab-study', version: 1, name: 'fixture grid', createdAt: new Date(t0).toISOString(), request, timing: null, predictedSeconds: 60, runs: entries }, null, 2));
  const points = entries.map((e) => ({ run: e.label, N: e.params, D: e.tokens, loss: e.evalLoss }));
  fs.writeFileSync(path.join(dir, 'fit.json'), JSON.stringify({ format: 'shapelab-fit', version: 1, name: 'fixture grid', source: 'local study fixture grid: 3 runs (fixture)', law, points }, null, 2));
  return dir;
}
module.exports = { makeRun, makeStudy };
if (require.main === module) {
  console.log(makeRun(process.argv[2], process.argv[3]));
  console.log(makeStudy(process.argv[2]));
}
