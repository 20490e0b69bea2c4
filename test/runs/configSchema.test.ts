import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { configHash, ConfigError, presetConfig, PRESETS, PRESET_NAMES, validateConfig, type RunConfig } from '../../src/core/runs/configSchema';

function rejects(input: unknown, message: string | RegExp): void {
  assert.throws(
    () => validateConfig(input),
    (e: Error) => e instanceof ConfigError && (typeof message === 'string' ? e.message === message : message.test(e.message)),
  );
}

describe('runs/configSchema', () => {
  it('presets have the documented shapes and validate to themselves', () => {
    const t = PRESETS.tiny;
    assert.deepEqual([t.model.vocabSize, t.model.context, t.model.dModel, t.model.nLayers, t.model.nHeads, t.batchSize], [256, 64, 64, 2, 2, 8]);
    const s = PRESETS.small;
    assert.deepEqual([s.model.context, s.model.dModel, s.model.nLayers, s.model.nHeads, s.model.dModel / s.model.nHeads, s.batchSize], [128, 128, 4, 2, 64, 16]);
    const m = PRESETS['25m'];
    assert.deepEqual([m.model.context, m.model.dModel, m.model.nLayers, m.model.nHeads, m.batchSize], [256, 512, 8, 8, 32]);
    for (const name of PRESET_NAMES) assert.deepEqual(validateConfig(presetConfig(name)), PRESETS[name]);
    assert.deepEqual(validateConfig({}), PRESETS.tiny);
    assert.deepEqual(validateConfig({ preset: 'small' }), PRESETS.small);
  });

  it('fills derived defaults: dFf = 4 d, vocab from the tokenizer, totalSteps = steps', () => {
    const c = validateConfig({ preset: 'small', model: { dModel: 256 }, steps: 300, data: { tokenizer: 'gpt2' } });
    assert.equal(c.model.dFf, 1024);
    assert.equal(c.model.vocabSize, 50257);
    assert.equal(c.schedule.totalSteps, 300);
    assert.equal(c.schedule.warmupSteps, 30);
    assert.equal(c.model.nLayers, 4);
    const f = validateConfig({ data: { source: 'folder', path: '/w', include: ['**/*.md'] } });
    assert.deepEqual(f.data, { source: 'folder', tokenizer: 'byte', path: '/w', include: ['**/*.md'], valFraction: 0.05 });
    const g = validateConfig({ steps: 100, growth: { atStep: 50, operator: { partial: [0, 1] } } });
    // G_stack's own (Du et al. 2024 and its released code): g = 4, fresh AdamW, re-warmed schedule.
    assert.deepEqual(g.growth, { atStep: 50, factor: 4, operator: { partial: [0, 1] }, multiplier: 'keep', optimizer: 'reset', lr: 'rewarm' });
  });

  it('errors name the field', () => {
    rejects({ model: { dModel: 100, nHeads: 3 } }, 'config.model.dModel: must be a positive multiple of model.nHeads up to 65536 (got 100, nHeads 3)');
    rejects({ model: { dmodel: 64 } }, 'config.model.dmodel: unknown field (did you mean dModel?)');
    rejects({ stepz: 5 }, 'config.stepz: unknown field (did you mean steps?)');
    rejects({ steps: 0 }, 'config.steps: must be an integer in [1, 1000000000] (got 0)');
    rejects({ batchSize: 2.5 }, /^config\.batchSize: must be an integer/);
    rejects({ base: { lr: -1 } }, /^config\.base\.lr: must be a finite number in \(0, 10\] \(got -1\)/);
    rejects({ base: { lr: NaN } }, /^config\.base\.lr: .*got NaN/);
    rejects({ optimizer: { beta2: 1 } }, /^config\.optimizer\.beta2: must be a finite number in \[0, 1\)/);
    rejects({ schedule: { kind: 'linear' } }, `config.schedule.kind: must be one of 'cosine', 'wsd' (got "linear")`);
    rejects({ schedule: { warmupSteps: 600 } }, /^config\.schedule\.warmupSteps: must be an integer in \[0, 500\]/);
    rejects({ schedule: { kind: 'wsd', decayFraction: 0 } }, /^config\.schedule\.decayFraction: must be > 0/);
    rejects({ model: { vocabSize: 100 } }, `config.model.vocabSize: must be at least the vocabulary of tokenizer 'byte' (256) (got 100)`);
    rejects({ model: { tiedEmbeddings: 'yes' } }, /^config\.model\.tiedEmbeddings: must be true or false/);
    rejects({ data: { source: 'file' } }, /^config\.data\.path: must be a non-empty string/);
    rejects({ data: { source: 'brown', path: 'x' } }, `config.data.path: is only used with data.source 'file' or 'folder'`);
    rejects({ data: { source: 'file', path: 'x', include: ['*'] } }, `config.data.include: is only used with data.source 'folder'`);
    rejects({ data: { source: 'folder', path: 'x', include: 'a' } }, /^config\.data\.include: must be a list/);
    rejects({ data: { tokenizer: 'bpe' } }, /^config\.data\.tokenizer: must be one of 'byte', 'gpt2'/);
    rejects({ ep: 'tpu' }, /^config\.ep: must be one of 'auto', 'webgpu', 'cpu', 'cuda'/);
    rejects({ seed: -1 }, /^config\.seed: must be an integer in \[0, 4294967295\]/);
    rejects({ parameterization: 'ntk' }, /^config\.parameterization: must be one of 'completep'/);
    rejects({ growth: { atStep: 500 } }, /^config\.growth\.atStep: must be an integer in \[1, 499\]/);
    rejects({ growth: { atStep: 5, operator: { partial: [1, 2] } } }, /^config\.growth\.operator\.partial: must be \[a, b\] with 0 <= a <= b < model\.nLayers \(2\)/);
    rejects({ growth: { atStep: 5, operator: 'zip' } }, /^config\.growth\.operator: must be one of 'stack', 'interleave'/);
    rejects({ growth: { atStep: 5, factor: 64 }, model: { nLayers: 100 } }, /^config\.growth\.factor: grows the model to 6400 blocks/);
    rejects({ model: 5 }, 'config.model: must be an object (got 5)');
    rejects({ version: 3 }, 'config.version: must be 1 or 2 (got 3)');
    rejects({ preset: 'huge' }, /^config\.preset: must be one of 'tiny', 'small', '25m'/);
    rejects(null, 'config: must be a JSON object (got null)');
    rejects([], 'config: must be a JSON object (got [])');
  });

  it('several problems: the first one is the message, all are listed', () => {
    try {
      validateConfig({ steps: -1, ep: 'x', model: { nHeads: 0 } });
      assert.fail('accepted');
    } catch (e) {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.issues.length, 3);
      assert.match(e.message, /^config\.\S+: .* \(and 2 more\)$/);
      assert.ok(!e.message.includes('\n'));
    }
  });

  it('configHash: stable under key order, ignores label and ep, changes with anything else', () => {
    const a = validateConfig({});
    const reverseKeys = (v: unknown): unknown =>
      v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reverseKeys(x)])) : v;
    const shuffled = reverseKeys(a) as RunConfig;
    assert.notEqual(JSON.stringify(shuffled), JSON.stringify(a));
    assert.equal(configHash(shuffled), configHash(a));
    assert.equal(configHash({ ...a, label: 'other', ep: 'cpu' }), configHash(a));
    assert.notEqual(configHash(validateConfig({ base: { lr: 0.001 } })), configHash(a));
    assert.notEqual(configHash(validateConfig({ seed: 1 })), configHash(a));
    assert.match(configHash(a), /^[0-9a-f]{16}$/);
  });

  it('property: any JSON-ish input is either a valid config or a one-line ConfigError (3000 cases)', () => {
    const leaf = fc.oneof(fc.integer({ min: -5, max: 600 }), fc.double(), fc.string({ maxLength: 6 }), fc.boolean(), fc.constant(null), fc.constantFrom('cosine', 'wsd', 'gpt2', 'byte', 'folder', 'file', 'stack', 'cpu', 'small'));
    const keys = fc.constantFrom('model', 'steps', 'batchSize', 'seed', 'ep', 'data', 'schedule', 'growth', 'base', 'optimizer', 'preset', 'dModel', 'nHeads', 'nLayers', 'context', 'atStep', 'operator', 'source', 'path', 'tokenizer', 'kind', 'lr', 'partial');
    const value = fc.letrec((tie) => ({
      node: fc.oneof({ depthSize: 'small' }, leaf, fc.dictionary(keys, tie('node'), { maxKeys: 5 }), fc.array(tie('node'), { maxLength: 3 })),
    })).node;
    let ok = 0;
    fc.assert(
      fc.property(fc.dictionary(keys, value, { maxKeys: 6 }), (input) => {
        try {
          const c = validateConfig(input);
          ok++;
          assert.deepEqual(validateConfig(c), c, 'validation is idempotent');
          assert.equal(c.model.dModel % c.model.nHeads, 0);
        } catch (e) {
          if (!(e instanceof ConfigError)) throw e;
          assert.match(e.message, /^config(\.[A-Za-z0-9_.]+)?: /);
          assert.ok(!e.message.includes('\n'));
        }
      }),
      { numRuns: 3000, seed: 42 },
    );
    assert.ok(ok > 0, 'some generated configs are valid');
  });
});
