import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { exportTorch } from '../../src/core/export/torchExport';
import { grownDepth } from '../../src/core/model/growthOrder';
import { validatePlanRequest } from '../../webview/shared/messages';
import { buildHardwareList, defaultRequest, runPlan, shapeDetail, planBatch, planDocument, shapeId } from '../../src/extension/logic/plannerBackend';

describe('planner backend (webview <-> core planner)', () => {
  const hw = buildHardwareList([
    { name: 'M3-Max', fp32Tflops: 14.2, memoryGB: 64, bandwidthTBs: 0.4, source: 'Apple' },
    { name: 'broken', fp32Tflops: -1 },
    'not an object',
  ]);

  it('hardware list: built-ins + valid user entries; bad entries reported by field', () => {
    assert.ok(hw.entries.has('h100-sxm'));
    assert.ok(hw.entries.has('m3-max'));
    assert.equal(hw.entries.get('m3-max')?.sourceKind, 'user');
    assert.equal(hw.problems.length, 2);
    assert.match(hw.problems[0], /extraHardware\[1\].*fp32Tflops/);
  });

  it('default request plans the default budget with results, sources and a detail', () => {
    const req = defaultRequest('h100', 'completep', hw);
    assert.equal(req.gpu, 'h100-sxm', 'aliases resolve');
    const out = runPlan(req, hw);
    assert.ok(out.shapes.length > 5);
    assert.ok(out.shapes.some((s) => s.pareto));
    for (const s of out.shapes) assert.ok(Number.isFinite(s.predictedLoss) && s.params > 0 && s.id === shapeId(s));
    assert.ok(out.sources.some((s) => s.name === 'GPU' && /datasheet/.test(s.source)));
    const d = shapeDetail(out.shapes[0], req, hw);
    assert.equal(d.hparams.length, 6);
    assert.ok(d.memory.find((m) => m.part === 'total')!.gib > 0);
    assert.equal(d.growth.length, 2);
    assert.match(d.sources.find((x) => x.name.startsWith('batch per optimizer step'))!.value, /^\d+ GPU x micro-batch \d+ x \d+ accumulated = \d+ sequences/);
    const doc = planDocument(out.shapes[0], req, hw);
    assert.equal(doc.format, 'shapelab-plan');
    // The exported batch is the one the planner priced: every GPU's micro-batch, accumulated to
    // the 2^19-token global batch of the time model.
    assert.equal(doc.batchSize, out.shapes[0].microBatch * req.gpuCount);
    const stepTokens = (doc.batchSize as number) * (doc.gradAccum as number) * req.context;
    assert.ok(stepTokens >= 2 ** 19 && stepTokens - (doc.batchSize as number) * req.context < 2 ** 19, `step tokens ${stepTokens}`);
  });

  it('precision bf16 (the planner form\'s Precision select) times the same budget at the bf16 peak', () => {
    const req = defaultRequest('h100-sxm', 'completep', hw);
    // (fp32 explicitly: without a precision the H100 now plans in bf16, what train.py runs there)
    const f32 = runPlan({ ...req, precision: 'fp32' }, hw), b16 = runPlan({ ...req, precision: 'bf16' }, hw);
    assert.equal(runPlan(req, hw).raw.context.precision, 'bf16');
    assert.equal(validatePlanRequest({ ...req, precision: 'bf16' }).precision, 'bf16');
    assert.throws(() => validatePlanRequest({ ...req, precision: 'fp16' }), /precision/);
    assert.ok(b16.shapes[0].hours! < f32.shapes[0].hours! / 3, `${b16.shapes[0].hours} vs ${f32.shapes[0].hours}`);
    assert.equal((planDocument(b16.shapes[0], { ...req, precision: 'bf16' }, hw).hardware as { precision: string }).precision, 'bf16');
  });

  it("the plan document exports the planned model: depth, tied embeddings, GPUs, growth only when recommended", () => {
    const req = { ...defaultRequest('h100-sxm', 'completep', hw), gpuCount: 2 };
    const out = runPlan(req, hw);
    const shape = out.shapes[0];
    const doc = planDocument(shape, req, hw);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shapelab-plandoc-'));
    const res = exportTorch({ plan: doc, outDir: path.join(dir, 'd') });
    const depth = res.config.growth ? grownDepth(res.config.model.nLayers, res.config.growth) : res.config.model.nLayers;
    assert.equal(depth, shape.nLayers);
    assert.equal(!!res.config.growth, doc.useGrowth);
    assert.equal(res.config.model.tiedEmbeddings, true);
    assert.equal(res.config.model.dModel, shape.dModel);
    assert.equal(res.config.model.nHeads, shape.nHeads);
    assert.equal(res.launch.gpus, 2);
    assert.match(fs.readFileSync(path.join(dir, 'd', 'README.md'), 'utf8'), /--nproc_per_node=2 /);
    const tps = res.config.batchSize * (res.config.gradAccum ?? 1) * req.context;
    if (!res.config.growth) assert.ok(res.config.steps * tps >= shape.tokens && (res.config.steps - 1) * tps < shape.tokens);
    assert.equal(res.config.steps, doc.steps);
  });

  it('planBatch: micro-batches of all GPUs, accumulated to the global batch', () => {
    assert.deepEqual(planBatch(4, 8, 2048), { batchSize: 32, gradAccum: 8 }); // 256 sequences of 2048
    assert.deepEqual(planBatch(64, 8, 2048), { batchSize: 512, gradAccum: 1 }); // already above 2^19 tokens
    assert.deepEqual(planBatch(3, 1, 1000), { batchSize: 3, gradAccum: 175 }); // ceil(524 / 3)
  });

  it('a GPU name that is a path or inline JSON is refused, never loaded', () => {
    const req = defaultRequest('h100-sxm', 'completep', hw);
    for (const gpu of ['/etc/passwd.json', './gpu.json', '{"name":"x","fp32Tflops":1,"memoryGB":1,"bandwidthTBs":1}', 'local-missing']) {
      assert.throws(() => runPlan({ ...req, gpu }, hw), /unknown GPU/);
    }
  });

  it('impossible constraints give a warning, not an exception', () => {
    const req = { ...defaultRequest('t4', 'completep', hw), gpuCount: 1, constraints: { maxMemoryGB: 0.01 } };
    const out = runPlan(req, hw);
    assert.equal(out.shapes.length, 0);
    assert.match(out.warnings[0], /No shape fits/);
  });
});
