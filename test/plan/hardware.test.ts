import { strict as assert } from 'node:assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listHardware, PlanInputError, resolveHardware } from '../../src/core/plan';

describe('plan/hardware: GPU database', () => {
  it('has the planning-facts GPU table, each row with a source', () => {
    const names = listHardware().map((h) => h.name);
    for (const n of ['h100-sxm', 'h100-pcie', 'h200-sxm', 'a100-sxm-80gb', 'a100-sxm-40gb', 'l40s', 'l4', 'rtx-4090', 'rtx-3090', 'a10g', 't4']) assert.ok(names.includes(n), n);
    for (const h of listHardware()) {
      assert.ok(h.source.length > 10, h.name);
      assert.ok(['vendor-datasheet', 'vendor-whitepaper', 'community'].includes(h.sourceKind), h.name);
    }
  });

  it('H100 SXM: 989 dense bf16, 67 fp32, 80 GB, 3.35 TB/s, 132 SMs (datasheet)', () => {
    const h = resolveHardware('h100-sxm');
    assert.deepEqual([h.bf16Tflops, h.fp32Tflops, h.memoryGB, h.bandwidthTBs, h.sms, h.sourceKind], [989, 67, 80, 3.35, 132, 'vendor-datasheet']);
  });

  it('resolves aliases case-insensitively', () => {
    assert.equal(resolveHardware('A100').name, 'a100-sxm-80gb');
    assert.equal(resolveHardware('H200').name, 'h200-sxm');
  });

  it('unknown GPU: error lists the known names', () => {
    assert.throws(() => resolveHardware('gtx-9999'), (e: Error) => e instanceof PlanInputError && /unknown GPU 'gtx-9999'/.test(e.message) && /h100-sxm/.test(e.message) && /rtx-4090/.test(e.message));
  });

  const m3 = { name: 'm3-max', fp32Tflops: 14.2, memoryGB: 64, bandwidthTBs: 0.4, source: 'my measurement' };

  it('accepts an inline JSON entry and an entry object', () => {
    const h = resolveHardware(JSON.stringify(m3));
    assert.equal(h.name, 'm3-max');
    assert.equal(h.sourceKind, 'user');
    assert.equal(h.bf16Tflops, null);
    assert.equal(resolveHardware(m3).memoryGB, 64);
  });

  it('accepts a JSON file path', () => {
    const dir = mkdtempSync(join(tmpdir(), 'shapelab-hw-'));
    const f = join(dir, 'gpu.json');
    writeFileSync(f, JSON.stringify(m3));
    assert.equal(resolveHardware(f).fp32Tflops, 14.2);
  });

  it("'local' comes from SHAPELAB_HARDWARE_FILE (or ~/.shapelab/hardware.json)", () => {
    const dir = mkdtempSync(join(tmpdir(), 'shapelab-hw-'));
    const f = join(dir, 'hardware.json');
    writeFileSync(f, JSON.stringify({ gpus: [m3, { ...m3, name: 'local', fp32Tflops: 21 }] }));
    const env = { SHAPELAB_HARDWARE_FILE: f };
    assert.equal(resolveHardware('local', env).fp32Tflops, 21);
    assert.equal(resolveHardware('m3-max', env).fp32Tflops, 14.2);
    assert.throws(() => resolveHardware('local', { SHAPELAB_HARDWARE_FILE: join(dir, 'missing.json') }), /no local hardware entry/);
  });

  it('rejects malformed entries with a one-line reason', () => {
    assert.throws(() => resolveHardware('{"name":"x","fp32Tflops":-1,"memoryGB":1,"bandwidthTBs":1}'), /fp32Tflops/);
    assert.throws(() => resolveHardware('{not json'), /not valid JSON/);
    assert.throws(() => resolveHardware('/nonexistent/gpu.json'), /not found/);
  });
});
