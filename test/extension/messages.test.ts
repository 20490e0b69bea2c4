import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { parseMonitorMessage, parsePlannerMessage, validatePlanRequest, toMetricPoint, toRunEvent, hostMessageType, PlanRequest } from '../../webview/shared/messages';

const good: PlanRequest = {
  budgetKind: 'flops',
  budget: 1e20,
  gpu: 'h100-sxm',
  gpuCount: 8,
  context: 2048,
  vocab: 50304,
  parameterization: 'completep',
  fit: 'besiroglu',
  base: { baseWidth: 256, baseDepth: 2, lr: 3e-3, initStd: 0.02, eps: 1e-8, weightDecay: 0.1 },
  constraints: { maxDepth: 64 },
};

describe('webview messages: validation at the boundary', () => {
  it('accepts well-formed planner messages', () => {
    assert.deepEqual(parsePlannerMessage({ type: 'ready' }), { ok: true, value: { type: 'ready' } });
    const r = parsePlannerMessage({ type: 'plan', requestId: 3, request: good });
    assert.ok(r.ok);
    assert.deepEqual(r.ok && r.value, { type: 'plan', requestId: 3, request: good });
    assert.ok(parsePlannerMessage({ type: 'detail', shapeId: 'd1536-L26-h12-f6144' }).ok);
    assert.ok(parsePlannerMessage({ type: 'export', shapeId: 'd1536-L26-h12-f6144', format: 'torch' }).ok);
  });

  it('rejects bad types, ranges, lengths and extra fields, naming the field', () => {
    const cases: Array<[unknown, RegExp]> = [
      [null, /message: expected an object/],
      [[], /message: expected an object/],
      [{ type: 'nope' }, /message\.type/],
      [{ type: 'ready', extra: 1 }, /message\.extra: unexpected field/],
      [{ type: 'plan', requestId: 1, request: { ...good, budget: -1 } }, /request\.budget/],
      [{ type: 'plan', requestId: 1, request: { ...good, budget: NaN } }, /request\.budget: expected a finite number/],
      [{ type: 'plan', requestId: 1, request: { ...good, gpuCount: 1.5 } }, /request\.gpuCount: expected an integer/],
      [{ type: 'plan', requestId: 1, request: { ...good, gpu: 'x'.repeat(101) } }, /request\.gpu: longer than 100/],
      [{ type: 'plan', requestId: 1, request: { ...good, parameterization: 'ntk' } }, /request\.parameterization: expected one of/],
      [{ type: 'plan', requestId: 1, request: { ...good, base: { ...good.base, lr: '0.1' } } }, /request\.base\.lr/],
      [{ type: 'plan', requestId: 1, request: { ...good, constraints: { minDepth: 9, maxDepth: 4 } } }, /constraints\.minDepth: must be <= maxDepth/],
      [{ type: 'plan', requestId: 1, request: { ...good, budgetKind: 'flops', budget: 5 } }, /FLOPs must be between/],
      [{ type: 'detail', shapeId: '../../etc/passwd' }, /message\.shapeId: has an invalid format/],
      [{ type: 'export', shapeId: 'a', format: 'exe' }, /message\.format/],
    ];
    for (const [msg, re] of cases) {
      const r = parsePlannerMessage(msg);
      assert.equal(r.ok, false, JSON.stringify(msg)?.slice(0, 80));
      if (!r.ok) assert.match(r.error, re);
    }
  });

  it('monitor messages: run ids are opaque tokens, never paths', () => {
    assert.ok(parseMonitorMessage({ type: 'selectRun', runId: '2026-11-22T21-50-00-tiny' }).ok);
    for (const runId of ['../x', '/etc', 'a/b', '..', '.hidden', '', 'a\u0000b', 'x'.repeat(129), 5, null]) {
      assert.equal(parseMonitorMessage({ type: 'selectRun', runId }).ok, false, String(runId));
    }
    assert.equal(parseMonitorMessage({ type: 'stop' }).ok, false);
  });

  it('prototype-pollution payloads are rejected without side effects', () => {
    const evil = JSON.parse('{"type":"ready","__proto__":{"polluted":true}}');
    const r = parsePlannerMessage(evil);
    assert.equal(r.ok, false);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(parsePlannerMessage(Object.create({ type: 'ready' })).ok, false, 'non-plain objects are rejected');
  });

  it('a getter that throws is a rejection, not a crash', () => {
    const hostile = {};
    Object.defineProperty(hostile, 'type', { enumerable: true, get() { throw new Error('boom'); } });
    const r = parsePlannerMessage(hostile);
    assert.equal(r.ok, false);
  });

  it('fuzz: arbitrary values never throw and only well-formed ones pass', function () {
    this.timeout(60000);
    let runs = 0;
    let accepted = 0;
    fc.assert(
      fc.property(fc.anything({ withObjectString: true, withNullPrototype: true, withBigInt: true, withDate: true, withMap: true, withSet: true, withTypedArray: true, withSparseArray: true, maxDepth: 4 }), (v) => {
        runs++;
        const p = parsePlannerMessage(v);
        const m = parseMonitorMessage(v);
        if (p.ok) accepted++;
        if (m.ok) accepted++;
        return typeof p.ok === 'boolean' && typeof m.ok === 'boolean';
      }),
      { numRuns: 5000 },
    );
    // structured fuzz: right shape, random field values
    const planArb = fc.record({
      type: fc.constantFrom('plan', 'detail', 'train', 'export', 'ready', 'x'),
      requestId: fc.oneof(fc.integer(), fc.double(), fc.string()),
      shapeId: fc.oneof(fc.string({ maxLength: 300 }), fc.constant('d64-L2-h1-f256')),
      format: fc.constantFrom('json', 'torch', 'pdf', ''),
      request: fc.record({
        budgetKind: fc.constantFrom('flops', 'gpuHours', 'tokens'),
        budget: fc.oneof(fc.double(), fc.integer()),
        gpu: fc.string({ maxLength: 150 }),
        gpuCount: fc.oneof(fc.integer(), fc.double()),
        context: fc.integer(),
        vocab: fc.integer(),
        parameterization: fc.constantFrom('completep', 'alpha0.5', 'mup', 'sp', 'bogus'),
        fit: fc.constantFrom('besiroglu', 'chinchilla', 'x'),
        base: fc.record({ baseWidth: fc.integer(), baseDepth: fc.integer(), lr: fc.double(), initStd: fc.double(), eps: fc.double(), weightDecay: fc.double() }),
        constraints: fc.dictionary(fc.constantFrom('minDepth', 'maxDepth', 'maxWidth', 'headDim', 'maxMemoryGB', 'other'), fc.oneof(fc.integer(), fc.double())),
      }, { requiredKeys: [] }),
    }, { requiredKeys: ['type'] });
    fc.assert(
      fc.property(planArb, (v) => {
        runs++;
        const r = parsePlannerMessage(v);
        if (r.ok && r.value.type === 'plan') {
          const q = r.value.request;
          assert.ok(Number.isFinite(q.budget) && q.budget > 0);
          assert.ok(Number.isInteger(q.gpuCount) && q.gpuCount >= 1);
          assert.ok(q.gpu.length <= 100);
        }
        return true;
      }),
      { numRuns: 5000 },
    );
    assert.ok(runs >= 10000);
    console.log(`      fuzz: ${runs} messages, ${accepted} accepted by an unstructured generator`);
  });

  it('validatePlanRequest round-trips a valid request unchanged', () => {
    assert.deepEqual(validatePlanRequest(JSON.parse(JSON.stringify(good))), good);
  });

  it('normalizes metrics and events rows, dropping non-finite values', () => {
    assert.deepEqual(toMetricPoint({ step: 5, loss: 3.2, lr: 'x', tflops: null, evalLoss: 3.1, junk: 1 }), { step: 5, loss: 3.2, evalLoss: 3.1 });
    assert.equal(toMetricPoint({ loss: 1 }), undefined);
    assert.equal(toMetricPoint({ step: -1 }), undefined);
    assert.equal(toMetricPoint([1, 2]), undefined);
    const e = toRunEvent({ type: 'growth', step: 10, depthBefore: 2, depthAfter: 8, operator: 'G_stack', lrPolicy: 'x'.repeat(1000) });
    assert.equal(e?.lrPolicy?.length, 200);
    assert.equal(toRunEvent({ type: 'growth' }), undefined);
    assert.equal(toRunEvent({ type: 'error', step: 3, error: 'device lost' })?.message, 'device lost');
    assert.equal(toRunEvent({ type: 'resume', step: 3, ep: 'webgpu', runtime: 'capture' })?.device, 'webgpu (captured step)');
    assert.equal(toRunEvent({ type: 'resume', step: 3, ep: 'webgpu', runtime: 'node' })?.device, 'webgpu');
  });

  it('hostMessageType only dispatches known types', () => {
    assert.equal(hostMessageType({ type: 'runs' }, ['runs', 'reset'] as const), 'runs');
    assert.equal(hostMessageType({ type: 'eval' }, ['runs'] as const), undefined);
    assert.equal(hostMessageType(null, ['runs'] as const), undefined);
  });
});
