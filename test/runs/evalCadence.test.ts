import { strict as assert } from 'node:assert';
import { defaultEvalEvery, validateConfig, PRESETS } from '../../src/core/runs/configSchema';
import { configFromFlags } from '../../src/cli/commands/train';

describe('default eval cadence', () => {
  it('about 20 evals per run, never more than ~10% of the compute', () => {
    // 3000 steps, 8 eval batches: 150 (20 evals), not 750 (steps/4) as before
    assert.equal(defaultEvalEvery(3000, 8), 150);
    // short run: the cost bound wins (8 forward micro-batches ~ 2.67 steps; 10% -> every 27 steps)
    assert.equal(defaultEvalEvery(200, 8), 27);
    // accumulation makes a step 4x dearer than an eval: ceil(8 / 12 / 0.1) = 7 where 20 evals would be every 5
    assert.equal(defaultEvalEvery(100, 8, 4), 7);
    assert.equal(defaultEvalEvery(200, 8, 4), 10);
    for (const steps of [1, 10, 500, 2000, 5000, 100000]) {
      const e = defaultEvalEvery(steps, 8);
      assert.ok(Math.floor(steps / e) <= 20, `${steps}: ${Math.floor(steps / e)} evals`);
      assert.ok((8 / 3) / e <= 0.1 + 1e-12, `${steps}: eval share`);
    }
  });

  it('a config without evalEvery gets the default; a config with one (every saved config.json) keeps it', () => {
    const fresh = validateConfig({ preset: 'small', steps: 3000 });
    assert.equal(fresh.evalEvery, 150);
    const old = validateConfig({ ...PRESETS.small, steps: 3000, evalEvery: 300 });
    assert.equal(old.evalEvery, 300);
    assert.equal(validateConfig({ preset: 'tiny', evalEvery: 0 }).evalEvery, 0, '0 still turns evals off');
  });

  it('train --steps N without --eval-every uses the default, not steps/4', () => {
    const c = configFromFlags({ preset: 'tiny', steps: '3000' });
    assert.equal(c.evalEvery, 150);
    assert.equal(c.checkpointEvery, 750);
    assert.equal(configFromFlags({ preset: 'tiny', steps: '3000', 'eval-every': '100' }).evalEvery, 100);
  });
});
