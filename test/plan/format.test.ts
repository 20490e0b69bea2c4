import { strict as assert } from 'node:assert';
import { compact, hours, initText, sci, si, transferCaveat } from '../../src/core/plan/format';

describe('plan/format: one vocabulary of units', () => {
  it('counts in k / M / B / T, scientific from 1e15 (never "1.53e+7T")', () => {
    assert.equal(si(124_439_808), '124M');
    assert.equal(si(2.26e9), '2.26B');
    assert.equal(si(45.3e9), '45.3B');
    assert.equal(si(5.34e12), '5.34T');
    assert.equal(si(1.53e19), '1.53e19');
    assert.equal(si(512), '512');
    assert.equal(compact(2.26e9), '2.26B'); // the webview's cells: B, not G
    assert.equal(sci(1e20), '1.00e20');
  });

  it('hours in the unit that reads best', () => {
    assert.equal(hours(3.26e-4), '1.17 s'); // was "3.26e-4 h"
    assert.equal(hours(0.25), '15 min');
    assert.equal(hours(3.256), '3.26 h');
    assert.equal(hours(4491.2), '4,491 h');
    assert.equal(hours(3.2e8), '3.20e8 h');
    assert.equal(hours(null), '\u2013');
  });

  it('LayerNorm groups read "gain 1, bias 0", not "init std 0"; SP says it does not transfer', () => {
    assert.equal(initText('preLN', 0), 'gain 1, bias 0');
    assert.equal(initText('finalLN', 0), 'gain 1, bias 0');
    assert.equal(initText('hiddenBias', 0), 'zeros');
    assert.equal(initText('hidden', 0.02), '0.02');
    assert.match(transferCaveat('sp', 2432, 256, 2, 2) as string, /^SP does not transfer: .* 9\.5x its width/);
    assert.equal(transferCaveat('completep', 2432, 256, 24, 2), null);
  });
});
