import { strict as assert } from 'node:assert';
import { defaultProxyWidth, proxyCost, proxyRunConfig, proxyShape, proxyTransfer, proxyWidthChoices, ProxyError, type PlannedShape } from '../../src/core/plan/proxy';
import { DEFAULT_BASE } from '../../src/core/param/parameterization';
import { validateConfig } from '../../src/core/runs/configSchema';
import { modelShapeOf, transferFor } from '../../src/core/train/trainer';
import { paramLayout, totalParams } from '../../src/core/model/gpt';

// The plan of issue 14: d_model 1280 x 19 layers, head size 128, d_ff 4d, context 2048.
const plan: PlannedShape = { dModel: 1280, nLayers: 19, nHeads: 10, dHead: 128, dFf: 5120, seq: 2048 };

describe('proxy sizing (core/plan/proxy)', () => {
  it('default width: the widest multiple of 8 whose 19-block stack stays under 4M parameters', () => {
    // By hand: one block with biases and two LNs = 12w^2 + 13w; the stack 19 (12w^2 + 13w) + 2w.
    // w = 128: 19 * (196,608 + 1,664) + 256 = 3,767,424 <= 4e6; w = 136: 19 * (221,952 + 1,768) + 272 = 4,250,952 > 4e6.
    assert.equal(defaultProxyWidth(plan), 128);
    const p = proxyShape(plan);
    assert.deepEqual(
      { d: p.dModel, L: p.nLayers, h: p.nHeads, dh: p.dHead, ff: p.dFf, T: p.context, wr: p.widthReduction, dr: p.depthReduction },
      { d: 128, L: 19, h: 1, dh: 128, ff: 512, T: 128, wr: 10, dr: 1 },
    );
    assert.equal(proxyCost(p, 256).nonEmbeddingParams, 3_767_424);
  });

  it('keeps the planned depth and head size; the d_ff ratio follows the plan', () => {
    const p = proxyShape(plan, { width: 256 });
    assert.equal(p.nLayers, 19);
    assert.equal(p.nHeads, 2); // 256 / 128
    assert.equal(p.dHead, 128);
    assert.equal(p.dFf, 1024);
    const odd = proxyShape({ ...plan, dFf: 3456, dHead: 64, nHeads: 20 }, { width: 96 });
    assert.equal(odd.nHeads, 2); // round(96 / 64) = 2 (1.5 rounds up), and 2 divides 96
    assert.equal(odd.dHead, 48);
    assert.equal(odd.dFf, Math.round((96 * 3456) / 1280)); // 259
    // a plan narrower than the minimum width: the proxy is the plan's width
    assert.equal(proxyShape({ dModel: 8, nLayers: 3, nHeads: 1, dHead: 8, dFf: 32, seq: 64 }).dModel, 8);
  });

  it('bad widths are refused with one line naming the bound', () => {
    assert.throws(() => proxyShape(plan, { width: 2048 }), (e: Error) => e instanceof ProxyError && /to the planned width 1280 \(got 2048\)/.test(e.message));
    assert.throws(() => proxyShape(plan, { width: 100 }), /multiple of 8 \(got 100\)/);
    assert.throws(() => proxyShape(plan, { width: 8 }), /from 16/);
    assert.throws(() => proxyShape(plan, { width: 64.5 }), /integer/);
    assert.throws(() => proxyShape({ ...plan, nLayers: 0 }), /plan\.nLayers/);
  });

  it('width choices: powers of two and 1.5x up to the plan, with the default among them', () => {
    const c = proxyWidthChoices(plan);
    assert.deepEqual(c, [16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024]);
    assert.ok(c.includes(defaultProxyWidth(plan)));
  });

  it('transferred hyperparameters: proxy and plan share the base and every depth factor (CompleteP, Table 1)', () => {
    const p = proxyShape(plan, { width: 128 });
    const t = proxyTransfer(plan, p, DEFAULT_BASE, 'completep');
    const row = (g: string) => t.rows.find((r) => r.group === g)!;
    // m_N = 128 / 256 = 0.5 (proxy), 1280 / 256 = 5 (plan); m_L = 19 / 2 = 9.5 for both.
    assert.equal(t.proxy.mN, 0.5);
    assert.equal(t.plan.mN, 5);
    assert.equal(t.proxy.mL, 9.5);
    assert.equal(t.plan.mL, 9.5);
    assert.equal(t.proxy.residualMultiplier, 1 / 9.5);
    assert.equal(t.plan.residualMultiplier, t.proxy.residualMultiplier);
    // hidden LR eta / m_N (alpha = 1: no depth factor): 3e-3 / 0.5 and 3e-3 / 5
    assert.ok(Math.abs(row('hidden').proxy.lr - 6e-3) < 1e-15);
    assert.ok(Math.abs(row('hidden').plan.lr - 6e-4) < 1e-15);
    // hidden init std sigma / sqrt(m_N); weight decay lambda * m_N
    assert.ok(Math.abs(row('hidden').proxy.initStd - 0.02 / Math.sqrt(0.5)) < 1e-15);
    assert.ok(Math.abs(row('hidden').proxy.weightDecay - 0.05) < 1e-15);
    // residual-block eps: eps / m_N * m_L^-1
    assert.ok(Math.abs(row('hidden').proxy.eps - 1e-8 / 0.5 / 9.5) < 1e-22);
    assert.equal(row('embedding').proxy.lr, row('embedding').plan.lr);
    assert.equal(t.notes.length, 0);
    assert.match(proxyTransfer(plan, p, DEFAULT_BASE, 'sp').notes[0], /SP does not transfer across width/);
  });

  it('the run config trains exactly the proxy: config.json model, parameter count and per-group hyperparameters', () => {
    const p = proxyShape(plan, { width: 96 });
    const base = { ...DEFAULT_BASE, lr: 2e-3, baseWidth: 128 };
    const raw = proxyRunConfig(p, { steps: 300, data: { source: 'brown' }, parameterization: 'completep', base, label: 'proxy-d1280-L19' });
    const c = validateConfig(raw);
    assert.deepEqual(c.model, { vocabSize: 256, context: 128, dModel: 96, nLayers: 19, nHeads: 1, dFf: 384, tiedEmbeddings: false });
    assert.equal(c.steps, 300);
    assert.equal(c.schedule.totalSteps, 300);
    assert.equal(c.base.lr, 2e-3);
    assert.equal(c.base.baseWidth, 128);
    assert.equal(c.growth, undefined, 'no growth in a proxy');
    // the trainer's own layout and transfer of that config equal what the dialog shows
    assert.equal(totalParams(paramLayout(modelShapeOf(c), transferFor(c, c.model.nLayers))), proxyCost(p, 256).params);
    const shown = proxyTransfer(plan, p, base, 'completep');
    const used = transferFor(c, c.model.nLayers);
    for (const r of shown.rows) assert.deepEqual(used.groups[r.group], r.proxy, r.group);
    assert.throws(() => proxyRunConfig(p, { steps: 0, data: { source: 'brown' }, parameterization: 'completep', base, label: 'x' }), /steps/);
    const file = validateConfig(proxyRunConfig(p, { steps: 10, data: { source: 'folder', path: '/tmp/corpus' }, tokenizer: 'gpt2', parameterization: 'mup', base, label: 'x' }));
    assert.deepEqual([file.data.source, file.data.path, file.data.tokenizer, file.model.vocabSize], ['folder', '/tmp/corpus', 'gpt2', 50257]);
  });
});
