import { strict as assert } from 'node:assert';
import { DEFAULT_WEBGPU_OPTIONS, executionProvidersFor, RuntimeError, webgpuTuning } from '../../src/core/train/runtime';

/**
 * The WebGPU EP options every training session is created with. The buffer caches decide the step
 * time on a real GPU (bucket: ~200 ms, simple: ~105 ms for the 25m preset on an H200), so the
 * defaults, the override and its errors are pinned here.
 */
describe('WebGPU EP options passed to onnxruntime', () => {
  it('uses the simple storage and uniform buffer caches by default', () => {
    const saved = process.env.SHAPELAB_WEBGPU_OPTIONS;
    delete process.env.SHAPELAB_WEBGPU_OPTIONS;
    try {
      const eps = executionProvidersFor('webgpu') as { name: string; [k: string]: unknown }[];
      assert.equal(eps.length, 1);
      assert.equal(eps[0].name, 'webgpu');
      assert.equal(eps[0].storageBufferCacheMode, 'simple');
      assert.equal(eps[0].uniformBufferCacheMode, 'simple');
    } finally {
      if (saved !== undefined) process.env.SHAPELAB_WEBGPU_OPTIONS = saved;
    }
  });

  it('passes nothing extra to the CPU and CUDA providers', () => {
    assert.deepEqual(executionProvidersFor('cpu'), ['cpu']);
    assert.deepEqual(executionProvidersFor('cuda'), ['cuda']);
  });

  it('lets SHAPELAB_WEBGPU_OPTIONS override single keys and keeps the rest', () => {
    const o = webgpuTuning('{"storageBufferCacheMode":"bucket","validationMode":"disabled","enableRobustness":false}');
    assert.equal(o.storageBufferCacheMode, 'bucket');
    assert.equal(o.uniformBufferCacheMode, DEFAULT_WEBGPU_OPTIONS.uniformBufferCacheMode);
    assert.equal(o.validationMode, 'disabled');
    assert.equal(o.enableRobustness, false);
  });

  it('refuses malformed or unknown overrides with a clear error', () => {
    assert.throws(() => webgpuTuning('{storage'), (e: unknown) => e instanceof RuntimeError && /not JSON/.test((e as Error).message));
    assert.throws(() => webgpuTuning('["simple"]'), /must be a JSON object/);
    assert.throws(() => webgpuTuning('{"enableGraphCapture":"1"}'), /unknown option 'enableGraphCapture'/);
  });
});
