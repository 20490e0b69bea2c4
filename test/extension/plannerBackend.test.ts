import { strict as assert } from 'node:assert';
import { buildHardwareList, defaultRequest, runPlan, shapeDetail, planDocument, shapeId } from '../../src/extension/logic/plannerBackend';

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
    const doc = planDocument(out.shapes[0], req, hw);
    assert.equal(doc.format, 'shapelab-plan');
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
