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
module.exports = { makeRun };
if (require.main === module) console.log(makeRun(process.argv[2], process.argv[3]));
