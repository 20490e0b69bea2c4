/**
 * An export trains exactly the plan (issue 14 part 2, issue 11 part 3): for several plans, with and
 * without growth, from `plan --json` output and from a planner document, the exported config.json,
 * README.md and launch.sh carry the plan's depth, width, heads, tied embeddings, parameter count,
 * tokens, batch and GPUs. Parameter counts are recomputed here from the exported config by hand.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { exportTorch, ExportError, planExport, type ExportResult } from '../../src/core/export/torchExport';
import { grownDepth } from '../../src/core/model/growthOrder';
import { planShapes, type Candidate, type PlanResult } from '../../src/core/plan';

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'shapelab-planexport-'));
}

/** GPT-2 layout with biases, learned positions: counted from the exported model section. */
function paramsOf(m: { vocabSize: number; context: number; dModel: number; nHeads: number; dFf: number; tiedEmbeddings: boolean }, depth: number): number {
  const d = m.dModel;
  const f = m.dFf;
  const block = d * 3 * d + 3 * d + d * d + d + d * f + f + f * d + d + 4 * d;
  return depth * block + 2 * d + m.vocabSize * d + m.context * d + (m.tiedEmbeddings ? 0 : m.vocabSize * d);
}

function finalDepth(res: ExportResult): number {
  const c = res.config;
  return c.growth ? grownDepth(c.model.nLayers, c.growth) : c.model.nLayers;
}

function checkAgainst(res: ExportResult, c: Candidate, plan: PlanResult, growth: boolean): void {
  const cfg = res.config;
  const m = cfg.model;
  assert.equal(m.dModel, c.dModel);
  assert.equal(m.nHeads, c.nHeads);
  assert.equal(m.dFf, c.dFf);
  assert.equal(m.context, plan.context.seq);
  assert.equal(m.vocabSize, plan.context.vocab);
  assert.equal(m.tiedEmbeddings, true);
  assert.equal(finalDepth(res), c.nLayers);
  assert.equal(paramsOf(m, finalDepth(res)), c.params);
  assert.equal(!!cfg.growth, growth);
  const tokensPerStep = cfg.batchSize * (cfg.gradAccum ?? 1) * m.context;
  assert.equal(cfg.batchSize * (cfg.gradAccum ?? 1), c.batchSize * c.gradAccum);
  assert.equal(cfg.batchSize, c.microBatch * plan.context.gpus);
  if (!growth) {
    // the plan's tokens, rounded up to whole optimizer steps
    assert.ok(cfg.steps * tokensPerStep >= c.tokens && (cfg.steps - 1) * tokensPerStep < c.tokens, `${cfg.steps} x ${tokensPerStep} vs ${c.tokens}`);
  }
  const readme = fs.readFileSync(path.join(res.outDir, 'README.md'), 'utf8');
  const launch = fs.readFileSync(path.join(res.outDir, 'launch.sh'), 'utf8');
  const K = plan.context.gpus;
  assert.match(readme, new RegExp(`\\(the plan: ${K} GPUs?`));
  for (const text of [readme, launch]) {
    assert.match(text, new RegExp(K <= 8 ? `--nproc_per_node=${K} ` : `--nnodes=${K / 8} .*--nproc_per_node=8 `));
    assert.equal(/ --fsdp\b/.test(text.split('Without the plan')[0]), c.fsdp, 'fsdp flag');
    assert.equal(/--activation-checkpointing/.test(text.split('Without the plan')[0]), c.activationCheckpointing, 'checkpointing flag');
  }
  assert.doesNotMatch(readme, /here: 8 GPUs/);
}

describe('export torch --plan trains the plan', function () {
  this.timeout(120_000);
  const small = planShapes({ budget: { flops: 1e19 }, hardware: 'h100-sxm', seq: 1024, top: 5, search: { dModelMax: 2048, maxLayers: 48 } });
  const mid = planShapes({ budget: { flops: 1e21 }, hardware: 'h100-sxm', gpus: 8, top: 3, search: { dModelMax: 4096, maxLayers: 64 } });
  const big = planShapes({ budget: { flops: 1e22 }, hardware: 'h100-sxm', gpus: 16, top: 2, allowFsdp: true, search: { dModelMin: 3072, dModelMax: 4608, minLayers: 40, maxLayers: 72 } });
  const doc = (r: PlanResult) => JSON.parse(JSON.stringify(r)); // as written by `plan --json`

  it('plan --json, best shape: trained from scratch when the planner warns against growth', () => {
    assert.equal(small.growth!.recommended, false);
    const res = exportTorch({ plan: doc(small), outDir: path.join(tmp(), 'd') });
    checkAgainst(res, small.best!, small, false);
    assert.ok(res.notes.some((n) => /growth not used \(the planner warns/.test(n)));
  });

  it('--pick N exports the N-th candidate; out of range is refused', () => {
    const res = exportTorch({ plan: doc(small), outDir: path.join(tmp(), 'd'), planOptions: { pick: 3 } });
    checkAgainst(res, small.candidates[2], small, false);
    assert.throws(() => planExport(doc(small), { pick: 6 }), /--pick must be an integer in 1\.\.5/);
  });

  it('a recommended growth is used by default and reaches the planned depth exactly; --no-growth trains from scratch', () => {
    assert.equal(mid.growth!.recommended, true, mid.growth!.warnings.join('; '));
    const res = exportTorch({ plan: doc(mid), outDir: path.join(tmp(), 'd') });
    checkAgainst(res, mid.best!, mid, true);
    const g = mid.growth!;
    assert.equal(res.config.model.nLayers, g.schedule!.baseDepth);
    const tps = res.config.batchSize * (res.config.gradAccum ?? 1) * res.config.model.context;
    assert.ok(Math.abs(res.config.growth!.atStep * tps - g.growthTokens) <= tps);
    // the grown run spends the same FLOP budget: growth tokens + the grown model's tokens
    assert.ok(Math.abs(res.config.steps * tps - (g.growthTokens + g.flopSplit.largeTokens)) <= tps);
    const scratch = exportTorch({ plan: doc(mid), outDir: path.join(tmp(), 'd'), planOptions: { growth: false } });
    checkAgainst(scratch, mid.best!, mid, false);
  });

  it('growth asked for a depth that g does not divide: a partial stack reaches it', () => {
    const c = mid.candidates.find((x) => x.nLayers % 4 !== 0) ?? mid.candidates[0];
    const i = mid.candidates.indexOf(c) + 1;
    const res = exportTorch({ plan: doc(mid), outDir: path.join(tmp(), 'd'), planOptions: { pick: i, growth: true } });
    checkAgainst(res, c, mid, true);
  });

  it('a plan that needs FSDP on 16 GPUs exports --fsdp, two nodes and its micro-batch', () => {
    const b = big.best!;
    assert.equal(b.fsdp, true);
    const res = exportTorch({ plan: doc(big), outDir: path.join(tmp(), 'd'), planOptions: { growth: false } });
    checkAgainst(res, b, big, false);
    assert.equal(res.launch.microBatch, b.microBatch);
  });

  it("the planner view's document: growth only with useGrowth, depth, tied embeddings and GPUs kept", () => {
    const c = mid.best!;
    const planDoc = {
      format: 'shapelab-plan',
      version: 1,
      label: 'view-plan',
      tokens: Math.round(c.tokens),
      batchSize: c.batchSize,
      gradAccum: c.gradAccum,
      steps: 1, // the old document's grown-schedule steps: recomputed by the export
      shape: { vocab: 50304, seq: 2048, dModel: c.dModel, nLayers: c.nLayers, nHeads: c.nHeads, dHead: c.dHead, dFf: c.dFf },
      hardware: { name: 'h100-sxm', gpus: 8, precision: 'bf16' },
      parallel: { fsdp: c.fsdp, activationCheckpointing: c.activationCheckpointing, microBatch: c.microBatch },
      data: { source: 'folder', path: '/data/corpus', tokenizer: 'gpt2' },
      growth: { ...mid.growth!, warnings: ['not worth it'], recommended: false },
    };
    const res = exportTorch({ plan: planDoc, outDir: path.join(tmp(), 'd') });
    checkAgainst(res, c, mid, false);
    const data = res.config.data; // passed through (valFraction gets its default)
    assert.deepEqual([data.source, data.path, data.tokenizer], ['folder', '/data/corpus', 'gpt2']);
    const grown = exportTorch({ plan: { ...planDoc, useGrowth: true }, outDir: path.join(tmp(), 'd') });
    checkAgainst(grown, c, mid, true);
  });

  it('growth that would use the whole budget is refused with the reason', () => {
    assert.throws(() => planExport(doc(small), { growth: true }), (e: Error) => e instanceof ExportError && /would use the whole budget/.test(e.message));
  });
});
