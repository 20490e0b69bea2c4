import { strict as assert } from 'node:assert';
import { grownDepth, growEngine, growthSources, planGrowth } from '../../src/core/train/growth';
import type { Engine, HostState } from '../../src/core/train/engine';
import { BATCH, growthCfg, makeEngineFor, randomBatch, randomEngine, SHAPE, transferAt } from './helpers';

const tensor = (e: Engine, s: HostState, key: keyof HostState, name: string) => {
  const p = e.layout.find((q) => q.name === name);
  if (!p) throw new Error(`no tensor ${name}`);
  return s[key].subarray(p.offset, p.offset + p.size);
};

describe('growth: operators (source block of each new block)', () => {
  it('stack is the whole stack repeated g times', () => {
    assert.deepEqual(growthSources(3, 2, 'stack'), [0, 1, 2, 0, 1, 2]);
    assert.deepEqual(growthSources(2, 4, 'stack'), [0, 1, 0, 1, 0, 1, 0, 1]);
  });
  it('interleave repeats each block in place', () => {
    assert.deepEqual(growthSources(3, 2, 'interleave'), [0, 0, 1, 1, 2, 2]);
  });
  it('partial repeats the inclusive range a..b (same rule as the exporter and train.py)', () => {
    assert.deepEqual(growthSources(4, 3, { partial: [1, 2] }), [0, 1, 2, 1, 2, 1, 2, 3]);
    assert.deepEqual(growthSources(4, 2, { partial: [2, 3] }), [0, 1, 2, 3, 2, 3]);
    assert.deepEqual(growthSources(4, 2, { partial: [0, 0] }), [0, 0, 1, 2, 3]);
    assert.throws(() => growthSources(4, 2, { partial: [2, 4] }), RangeError);
    assert.equal(grownDepth(4, { factor: 3, operator: { partial: [1, 2] } }), 8);
  });
  it('g = 1 is the identity mapping; bad factors are refused', () => {
    assert.deepEqual(growthSources(3, 1, 'stack'), [0, 1, 2]);
    assert.deepEqual(growthSources(3, 1, 'interleave'), [0, 1, 2]);
    assert.throws(() => growthSources(3, 0, 'stack'), RangeError);
    assert.throws(() => growthSources(3, 1.5, 'stack'), RangeError);
  });
  it('planGrowth maps every new tensor to its source and scales only output projections', () => {
    const t = transferAt()(2);
    const { paramLayout } = require('../../src/core/model/gpt') as typeof import('../../src/core/model/gpt');
    const oldL = paramLayout(SHAPE, t), newL = paramLayout({ ...SHAPE, nLayers: 4 }, transferAt()(4));
    const plan = planGrowth(oldL, newL, growthSources(2, 2, 'stack'), 2);
    for (const { to, from, scale } of plan.mapping) {
      assert.deepEqual(to.shape, from.shape);
      if (to.block === undefined) assert.equal(to.name, from.name);
      else assert.equal(from.block, [0, 1, 0, 1][to.block]);
      assert.equal(scale, /proj\./.test(to.name) ? 2 : 1, to.name);
    }
  });
});

describe('growth: the device graph on the CPU EP', function () {
  this.timeout(120_000);
  const batch = randomBatch(SHAPE, BATCH, 7);

  async function grown(policy: Parameters<typeof growthCfg>[0], seed = 1) {
    const tA = transferAt();
    const e = await randomEngine(SHAPE, tA(SHAPE.nLayers), 'cpu', seed);
    const before = await e.getState();
    const lossBefore = (await e.evaluate([batch])).loss;
    const r = await growEngine(e, SHAPE, growthCfg(policy), tA, makeEngineFor(SHAPE, 'cpu'));
    await e.release();
    return { old: e, before, lossBefore, r, after: await r.engine.getState(), lossAfter: (await r.engine.evaluate([batch])).loss };
  }

  it('g = 1 is the identity: same state, same loss on a batch', async () => {
    for (const multiplier of ['keep', 'switch', 'rescale'] as const) {
      const { before, after, lossBefore, lossAfter, r } = await grown({ factor: 1, multiplier, optimizer: 'copy' });
      assert.equal(r.depth, 2);
      assert.deepEqual(after.params, before.params);
      assert.deepEqual(after.m, before.m);
      assert.deepEqual(after.v, before.v);
      assert.equal(lossAfter, lossBefore);
      await r.engine.release();
    }
  });

  it('whole-stack order is exact: block i of the grown model holds block i mod L (tensor values)', async () => {
    const { old, before, after, r } = await grown({ factor: 3, multiplier: 'keep', optimizer: 'copy' });
    assert.equal(r.depth, 6);
    for (const p of r.engine.layout) {
      const src = p.block === undefined ? p.name : p.name.replace(/^h\.\d+\./, `h.${p.block % 2}.`);
      for (const k of ['params', 'm', 'v'] as const) assert.deepEqual(tensor(r.engine, after, k, p.name), tensor(old, before, k, src), `${k} ${p.name}`);
    }
    // Distinct source blocks really differ (the check above is not vacuous).
    assert.notDeepEqual(tensor(old, before, 'params', 'h.0.mlp.fc.weight'), tensor(old, before, 'params', 'h.1.mlp.fc.weight'));
    await r.engine.release();
  });

  it('interleave and partial orders on tensor values', async () => {
    for (const [operator, expect] of [
      ['interleave', [0, 0, 1, 1]],
      [{ partial: [1, 1] }, [0, 1, 1]],
      [{ partial: [0, 1] }, [0, 1, 0, 1]],
    ] as const) {
      const { old, before, after, r } = await grown({ factor: 2, operator: operator as never, multiplier: 'keep' });
      assert.equal(r.depth, expect.length);
      for (const p of r.engine.layout) {
        if (p.block === undefined) continue;
        const src = p.name.replace(/^h\.\d+\./, `h.${expect[p.block]}.`);
        assert.deepEqual(tensor(r.engine, after, 'params', p.name), tensor(old, before, 'params', src), `${JSON.stringify(operator)} ${p.name}`);
      }
      await r.engine.release();
    }
  });

  it("'keep' computes plain stacking; 'rescale' reproduces it (CompleteP), 'switch' does not", async () => {
    const keep = await grown({ factor: 2, multiplier: 'keep' });
    const rescale = await grown({ factor: 2, multiplier: 'rescale' });
    const sw = await grown({ factor: 2, multiplier: 'switch' });
    // Plain stacking under the old multiplier, by construction of the transfer.
    assert.equal(keep.r.transfer.residualMultiplier, transferAt()(2).residualMultiplier);
    assert.equal(rescale.r.transfer.residualMultiplier, transferAt()(4).residualMultiplier);
    assert.ok(Math.abs(rescale.lossAfter - keep.lossAfter) < 1e-5, `rescale ${rescale.lossAfter} vs keep ${keep.lossAfter}`);
    assert.ok(Math.abs(sw.lossAfter - keep.lossAfter) > 1e-3, `switch ${sw.lossAfter} vs keep ${keep.lossAfter}`);
    // Rescaled output projections are g x the source (r_old / r_new = 2 at alpha = 1).
    const a = tensor(rescale.r.engine, rescale.after, 'params', 'h.3.attn.proj.weight');
    const b = tensor(rescale.old, rescale.before, 'params', 'h.1.attn.proj.weight');
    for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - 2 * b[i]) <= 1e-6 * Math.abs(b[i]) + 1e-9);
    for (const x of [keep, rescale, sw]) await x.r.engine.release();
  });

  it("optimizer 'copy' maps each source block's moments to its copies (rescaled with the weights); 'reset' zeroes them", async () => {
    const c = await grown({ factor: 2, multiplier: 'rescale', optimizer: 'copy' });
    for (const p of c.r.engine.layout) {
      const src = p.block === undefined ? p.name : p.name.replace(/^h\.\d+\./, `h.${p.block % 2}.`);
      const k = /\.proj\./.test(p.name) ? 2 : 1;
      const m1 = tensor(c.r.engine, c.after, 'm', p.name), m0 = tensor(c.old, c.before, 'm', src);
      const v1 = tensor(c.r.engine, c.after, 'v', p.name), v0 = tensor(c.old, c.before, 'v', src);
      for (let i = 0; i < m1.length; i++) {
        assert.ok(Math.abs(m1[i] - m0[i] / k) <= 1e-6 * Math.abs(m0[i]) + 1e-12, p.name);
        assert.ok(Math.abs(v1[i] - v0[i] / (k * k)) <= 1e-6 * Math.abs(v0[i]) + 1e-14, p.name);
      }
    }
    await c.r.engine.release();
    const z = await grown({ factor: 2, multiplier: 'rescale', optimizer: 'reset' });
    assert.ok(z.after.m.every((x) => x === 0) && z.after.v.every((x) => x === 0));
    await z.r.engine.release();
  });

  it("with moments copied, the first step after 'rescale' matches the first step of plain stacking ('keep' at the old multiplier)", async () => {
    // Same function and consistently mapped moments: the loss of the next step is equal; the
    // update itself differs by design (the new depth's transfer), so only loss equality is checked.
    const keep = await grown({ factor: 2, multiplier: 'keep', optimizer: 'copy' });
    const res = await grown({ factor: 2, multiplier: 'rescale', optimizer: 'copy' });
    const sk = await keep.r.engine.step(batch, 1, 10), sr = await res.r.engine.step(batch, 1, 10);
    assert.ok(Math.abs(sk.loss - sr.loss) < 1e-5);
    // Gradient norms differ by exactly the weight rescale on the projections, so they are close but not equal.
    assert.ok(Number.isFinite(sk.gradNorm) && Number.isFinite(sr.gradNorm));
    for (const x of [keep, res]) await x.r.engine.release();
  });
});
