/**
 * Issue 7, input 1: property-based tests (fast-check) over the planner, the CLI inputs and the run
 * config schema. Every generated input either works or yields a one-line error with exit code 2;
 * never an uncaught exception, a hang, or a non-finite number in the output.
 *
 * The CLI runs in-process (main() with stdout/stderr captured) for the many cases; `train` is
 * checked up to the point where training would start (flags -> validated config -> resource
 * check); a fixed-seed sample of ~20 cases also runs as real spawned processes, training included.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import type { Command } from '../../src/cli/command';
import { command as planCmd } from '../../src/cli/commands/plan';
import { command as evaluateCmd } from '../../src/cli/commands/evaluate';
import { command as hparamsCmd } from '../../src/cli/commands/hparams';
import { command as growthCmd } from '../../src/cli/commands/growth';
import { UserError } from '../../src/cli/errors';
import { parse } from '../../src/cli/args';
import { OPTIONS as TRAIN_OPTIONS, configFromFlags } from '../../src/cli/commands/train';
import { evaluateShape, planShapes, PlanInputError, trainingMemory } from '../../src/core/plan';
import { ConfigError, presetConfig, validateConfig } from '../../src/core/runs/configSchema';
import { checkResources, estimateResources, ResourceError } from '../../src/core/train/resources';
import { buildOnce, shapelabSync, tmpDir } from './helpers';

const counts: Record<string, number> = {};
const count = (k: string, n = 1) => (counts[k] = (counts[k] ?? 0) + n);

/** Every number reachable in `v` is finite (null is allowed: "unknown"). */
function nonFinitePath(v: unknown, at = '$', seen = new Set<unknown>()): string | null {
  if (typeof v === 'number') return Number.isFinite(v) ? null : `${at} = ${v}`;
  if (v && typeof v === 'object') {
    if (seen.has(v)) return null;
    seen.add(v);
    for (const [k, x] of Object.entries(v)) {
      const p = nonFinitePath(x, `${at}.${k}`, seen);
      if (p) return p;
    }
  }
  return null;
}

const oneLine = (msg: string) => {
  assert.ok(msg.length > 0 && !msg.includes('\n'), `not one line: ${JSON.stringify(msg)}`);
  assert.doesNotMatch(msg, /\bat .*\(.*:\d+:\d+\)/);
};

// ---- value generators: the strings a user (or a fuzzer) types ----
const weirdNumber = fc.oneof(
  fc.constantFrom('0', '-0', '1', '-1', '2', '3', '7', '64', '1e3', '1e9', '1e19', '1e300', '1e309', '-1e20', '5e-324', '1e-320', 'NaN', 'Infinity', '-Infinity', 'inf', '0x10', '1_000', '', ' ', '1.5', '.5', '1e', 'e5', '12abc', '٣', '１２'),
  fc.integer({ min: -10, max: 100_000 }).map(String),
  fc.double({ noNaN: false }).map(String),
  fc.string({ maxLength: 12 }),
);
const gpuValue = fc.oneof(
  fc.constantFrom('h100-sxm', 'a100', 'rtx-4090', 'local', 'H100-SXM', 'h100', 'nope', '', '{}', '{"name":"x"}', '{"name":"x","fp32Tflops":1,"memoryGB":1,"bandwidthTBs":1}', '{"name":"x","fp32Tflops":-1,"memoryGB":1e308,"bandwidthTBs":0}', '[1,2]', 'null', '/nonexistent.json', '../package.json'),
  fc.record({ name: fc.string({ maxLength: 8 }), fp32Tflops: fc.double(), memoryGB: fc.double(), bandwidthTBs: fc.double() }, { requiredKeys: [] }).map((o) => JSON.stringify(o)),
);
const paramValue = fc.constantFrom('completep', 'alpha0.5', 'mup', 'sp', 'completep', 'mup', 'ntk', '', 'CompleteP');
/** Mostly plausible values, sometimes weird ones: both the working and the refusing paths get cases. */
const mix = (...valid: string[]) => fc.oneof({ arbitrary: fc.constantFrom(...valid), weight: 4 }, { arbitrary: weirdNumber, weight: 1 });
const flag = (name: string, value: fc.Arbitrary<string>) => value.map((v) => [`--${name}`, v]);
const junkArg = fc.oneof(fc.constantFrom('--json', '--help', '-h', '--', '-x', '--unknown', '--json=1', 'extra'), fc.string({ maxLength: 10 }));

function argvFor(flags: [string, fc.Arbitrary<string>][], extras = true, absent = 2) {
  // Each flag is absent `absent` times as often as present.
  const opts = flags.map(([n, v]) => fc.oneof({ arbitrary: fc.constant(undefined), weight: absent }, { arbitrary: flag(n, v), weight: 1 }));
  const junkArr = extras ? fc.oneof({ arbitrary: fc.constant([] as string[]), weight: 4 }, { arbitrary: fc.array(junkArg, { minLength: 1, maxLength: 2 }), weight: 1 }) : fc.constant([] as string[]);
  return fc.tuple(fc.tuple(...opts), junkArr, fc.boolean()).map(([fs_, junk, json]) => {
    const argv = fs_.filter((x): x is string[] => x !== undefined).flat();
    if (json) argv.push('--json');
    return [...argv, ...junk];
  });
}

const PLAN_FLAGS: [string, fc.Arbitrary<string>][] = [
  ['flops', mix('1e17', '1e18', '1e19', '3e20')], ['gpu', fc.oneof({ arbitrary: fc.constantFrom('h100-sxm', 'a100', 'rtx-4090'), weight: 3 }, { arbitrary: gpuValue, weight: 1 })],
  ['gpus', mix('1', '2', '8')], ['seq', mix('256', '1024', '2048')], ['vocab', mix('256', '50304')], ['param', paramValue], ['precision', fc.constantFrom('fp32', 'bf16', 'bf16', 'fp16', '')], ['top', mix('1', '3', '10')],
];
const EVAL_FLAGS: [string, fc.Arbitrary<string>][] = [
  ['d-model', mix('64', '256', '768', '4096')], ['layers', mix('2', '12', '48')], ['heads', mix('1', '4', '12')], ['d-ff', mix('256', '3072')],
  ['seq', mix('256', '2048')], ['vocab', mix('256', '50257')], ['tokens', mix('1e9', '1e12')], ['gpu', fc.oneof({ arbitrary: fc.constantFrom('h100-sxm', 'a100'), weight: 3 }, { arbitrary: gpuValue, weight: 1 })], ['gpus', mix('1', '4')], ['param', paramValue], ['precision', fc.constantFrom('fp32', 'bf16', 'x')],
];
const HP_FLAGS: [string, fc.Arbitrary<string>][] = (
  [['base-width', mix('256', '64')], ['base-depth', mix('2', '4')], ['width', mix('1024', '256', '4096')], ['depth', mix('4', '16', '64')], ['lr', mix('0.01', '3e-4')], ['init-std', mix('0.02', '0.01')], ['eps', mix('1e-8', '1e-12')], ['weight-decay', mix('0', '0.1')]] as [string, fc.Arbitrary<string>][]
).concat([['param', paramValue]]);
const GROWTH_FLAGS: [string, fc.Arbitrary<string>][] = [['params', mix('1e8', '7e9', '1e11')], ['tokens', mix('1e10', '2e12')]];
const TRAIN_FLAGS: [string, fc.Arbitrary<string>][] = [
  ['preset', fc.constantFrom('tiny', 'tiny', 'small', '25m', 'huge', '')], ['steps', mix('1', '10', '500')], ['batch-size', mix('1', '8', '64')], ['grad-accum', mix('1', '2', '5000')], ['seed', mix('0', '1', '4294967295')], ['lr', mix('0.01', '3e-4', '1')],
  ['ep', fc.constantFrom('cpu', 'cpu', 'auto', 'webgpu', 'cuda', 'tpu', '')], ['param', paramValue], ['tokenizer', fc.constantFrom('byte', 'byte', 'gpt2', 'bpe', '')],
  ['eval-every', mix('0', '5', '100')], ['checkpoint-every', mix('0', '5', '100')], ['label', fc.string({ maxLength: 80 })],
  ['grow-at-step', mix('1', '5', '400')], ['grow-factor', mix('2', '4', '64')], ['grow-operator', fc.constantFrom('stack', 'interleave', 'partial:0-1', 'partial:1-0', 'partial:0-99', 'partial:x', '')],
  ['grow-multiplier', fc.constantFrom('keep', 'switch', 'rescale', 'no')], ['grow-optimizer', fc.constantFrom('reset', 'copy', 'x')], ['grow-lr', fc.constantFrom('continue', 'rewarm', 'x')],
  ['config', fc.constantFrom('/nonexistent.json', 'package.json', 'tsconfig.json', '.mocharc.json')], ['data', fc.constantFrom('/nonexistent', 'docs', 'README.md')],
];

const COMMANDS: Record<string, Command> = { plan: planCmd, evaluate: evaluateCmd, hparams: hparamsCmd, growth: growthCmd };

/**
 * A command's run() in this process with stdout/stderr captured, errors handled as main() does
 * (UserError: one stderr line + its exit code; anything else: exit 1, a failure here).
 */
async function runCli(argv: string[]): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
  let stdout = '', stderr = '';
  const ow = process.stdout.write, ew = process.stderr.write;
  const prev = process.exitCode;
  process.exitCode = undefined;
  process.stdout.write = ((c: string | Uint8Array) => ((stdout += String(c)), true)) as typeof process.stdout.write;
  process.stderr.write = ((c: string | Uint8Array) => ((stderr += String(c)), true)) as typeof process.stderr.write;
  const t0 = performance.now();
  let code: number;
  try {
    const [name, ...rest] = argv;
    if (!COMMANDS[name]) throw new UserError(`unknown command '${name}'`);
    const r = await COMMANDS[name].run(rest);
    code = typeof r === 'number' ? r : 0;
  } catch (e) {
    if (e instanceof UserError) {
      process.stderr.write(`shapelab: ${e.message}\n`);
      code = e.exitCode;
    } else {
      process.stderr.write(`shapelab: internal error: ${(e as Error)?.stack ?? e}\n`);
      code = 1;
    }
  } finally {
    process.stdout.write = ow;
    process.stderr.write = ew;
  }
  process.exitCode = prev;
  return { code, stdout, stderr, ms: performance.now() - t0 };
}

function checkCliResult(argv: string[], r: { code: number; stdout: string; stderr: string; ms: number }): void {
  const where = `shapelab ${argv.map((a) => JSON.stringify(a)).join(' ')}`;
  assert.ok(r.code === 0 || r.code === 2, `${where}: exit ${r.code}: ${r.stderr}`);
  assert.ok(r.ms < 10_000, `${where}: took ${r.ms} ms`);
  assert.doesNotMatch(r.stderr, /internal error|\n\s+at /, where);
  if (r.code === 2 && r.stderr) {
    assert.equal(r.stderr.trimEnd().split('\n').length, 1, `${where}: ${r.stderr}`);
    assert.match(r.stderr, /^shapelab: /);
  }
  if (r.code === 0) {
    const text = r.stdout.trim();
    if (text.startsWith('{')) {
      const doc = JSON.parse(text);
      const bad = nonFinitePath(doc);
      assert.equal(bad, null, `${where}: ${bad}`);
    } else assert.doesNotMatch(r.stdout, /\bNaN\b|Infinity|undefined/, `${where}: ${r.stdout}`);
  }
  count(`cli ${argv[0]} exit ${r.code}`);
}

describe('reliability: property-based tests (fast-check)', function () {
  this.timeout(300_000);
  const dirs: string[] = [];
  after(() => {
    dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true }));
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    console.log(`      fuzz summary: ${total} cases: ${Object.entries(counts).sort().map(([k, n]) => `${k}: ${n}`).join(', ')}`);
  });

  it('planner library: planShapes/evaluateShape/trainingMemory return finite numbers or throw a one-line PlanInputError', () => {
    const num = fc.oneof(fc.double(), fc.integer({ min: -5, max: 1e6 }), fc.constantFrom(0, 1, 2, 64, 1024, 1e19, 1e21, NaN, Infinity, -1, 1e308, 5e-324));
    const plausible = (...xs: number[]) => fc.oneof({ arbitrary: fc.constantFrom(...xs), weight: 4 }, { arbitrary: num, weight: 1 });
    const hw = fc.oneof(fc.constant(undefined), fc.constantFrom('h100-sxm', 'a100', 'rtx-4090'), gpuValue, fc.record({ name: fc.string({ maxLength: 6 }), fp32Tflops: num, memoryGB: num, bandwidthTBs: num, bf16Tflops: fc.oneof(num, fc.constant(null)) }, { requiredKeys: [] }));
    const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
    const ctx = { hardware: hw, gpus: opt(plausible(1, 8)), seq: opt(plausible(256, 2048)), vocab: opt(plausible(256, 50304)), parameterization: opt(fc.constantFrom('completep', 'alpha0.5', 'mup', 'sp')), mfu: opt(plausible(0.4, 0.5)), maxMicroBatch: opt(plausible(8, 16)), memoryHeadroom: opt(plausible(0.9)) };
    const outcome = (fn: () => unknown, what: string) => {
      const t0 = performance.now();
      try {
        const r = fn();
        const bad = nonFinitePath(r);
        assert.equal(bad, null, `${what}: ${bad}`);
        count(`${what} ok`);
      } catch (e) {
        if (!(e instanceof PlanInputError || e instanceof RangeError)) throw e;
        oneLine((e as Error).message);
        count(`${what} refused`);
      }
      assert.ok(performance.now() - t0 < 10_000, `${what} took ${performance.now() - t0} ms`);
    };
    fc.assert(
      fc.property(fc.record({ budget: fc.oneof(fc.record({ flops: plausible(1e17, 1e19, 1e21) }), fc.record({ gpuHours: plausible(1, 100) })), top: opt(plausible(3, 10)), ...ctx }), (req) => outcome(() => planShapes(req as Parameters<typeof planShapes>[0]), 'planShapes')),
      { numRuns: 200, seed: 7 },
    );
    fc.assert(
      fc.property(fc.record({ dModel: plausible(256, 768, 4096), nLayers: plausible(2, 12, 48), nHeads: opt(plausible(4, 8)), dFf: opt(plausible(1024, 3072)), tokens: opt(plausible(1e9, 1e12)), flops: opt(plausible(1e19)), ...ctx }), (req) => outcome(() => evaluateShape(req as Parameters<typeof evaluateShape>[0]), 'evaluateShape')),
      { numRuns: 1500, seed: 8 },
    );
    fc.assert(
      fc.property(fc.record({ vocab: plausible(256, 50304), seq: plausible(256, 2048), dModel: plausible(256, 768, 4096), nLayers: plausible(2, 48), nHeads: plausible(4, 8) }), plausible(1, 8), (s, mb) => outcome(() => trainingMemory(s, { microBatch: mb }), 'trainingMemory')),
      { numRuns: 1000, seed: 9 },
    );
  });

  it('CLI in-process: plan, evaluate, hparams, growth with generated flags -> exit 0 with finite output, or one stderr line with exit 2', async () => {
    const cmds: [string, fc.Arbitrary<string[]>, number][] = [
      ['plan', argvFor(PLAN_FLAGS), 300],
      ['evaluate', argvFor(EVAL_FLAGS), 1500],
      ['hparams', argvFor(HP_FLAGS), 1500],
      ['growth', argvFor(GROWTH_FLAGS), 1000],
      ['nosuchcommand', fc.array(junkArg, { maxLength: 3 }), 20],
    ];
    for (const [cmd, args, numRuns] of cmds) {
      await fc.assert(fc.asyncProperty(args, async (argv) => checkCliResult([cmd, ...argv], await runCli([cmd, ...argv]))), { numRuns, seed: 11 });
    }
  });

  it('CLI train flags in-process: a valid config that passes the resource check, or a one-line UserError/ResourceError (exit 2)', () => {
    fc.assert(
      fc.property(argvFor(TRAIN_FLAGS, true, 3), (argv) => {
        try {
          const { values } = parse(argv, TRAIN_OPTIONS);
          if (values.help) return void count('train --help');
          const c = configFromFlags(values as Record<string, string | boolean | undefined>);
          assert.equal(nonFinitePath(c), null);
          assert.deepEqual(validateConfig(c), c, 'a validated config must validate to itself');
          try {
            const e = checkResources(c, 'cpu');
            assert.ok(Number.isFinite(e.totalBytes));
            count('train config ok');
          } catch (e) {
            if (!(e instanceof ResourceError)) throw e;
            oneLine(e.message);
            count('train config refused (resources)');
          }
        } catch (e) {
          if (!(e instanceof UserError)) throw e;
          assert.equal(e.exitCode, 2);
          oneLine(e.message);
          count('train flags refused');
        }
      }),
      { numRuns: 5000, seed: 12 },
    );
  });

  it('run config schema: mutated configs validate (finite, canonical, finite resource estimate) or fail with one line naming the field', () => {
    const base = presetConfig('tiny') as unknown as Record<string, unknown>;
    const paths: string[][] = [];
    const walk = (o: Record<string, unknown>, p: string[]) => {
      for (const [k, v] of Object.entries(o)) {
        paths.push([...p, k]);
        if (v && typeof v === 'object' && !Array.isArray(v)) walk(v as Record<string, unknown>, [...p, k]);
      }
    };
    walk(base, []);
    paths.push(['growth'], ['growth', 'atStep'], ['growth', 'factor'], ['growth', 'operator'], ['nonFinite'], ['data', 'path'], ['preset'], ['bogus'], ['model', 'dmodel']);
    const value = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.double(), fc.integer(), fc.constantFrom(0, -1, 1, 2, 3, 1e9, 2 ** 53, NaN, Infinity, '', 'x', null, true, [], {}, { partial: [0, 1] }, { atStep: 5, factor: 2 }, 'skip', 'folder', 'gpt2', 'wsd'));
    const mutation = fc.tuple(fc.constantFrom(...paths), value, fc.boolean());
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 3 }), (muts) => {
        const c = structuredClone(base);
        for (const [p, v, del] of muts) {
          let o = c as Record<string, unknown>;
          for (const k of p.slice(0, -1)) {
            if (!o[k] || typeof o[k] !== 'object' || Array.isArray(o[k])) o[k] = {};
            o = o[k] as Record<string, unknown>;
          }
          if (del) delete o[p.at(-1)!];
          else o[p.at(-1)!] = v;
        }
        try {
          const v = validateConfig(c);
          assert.equal(nonFinitePath(v), null);
          assert.deepEqual(validateConfig(v), v);
          const e = estimateResources(v);
          assert.ok(Number.isFinite(e.totalBytes) && e.buffers.every((b) => Number.isFinite(b.bytes)));
          count('config valid');
        } catch (e) {
          if (!(e instanceof ConfigError)) throw e;
          oneLine(e.message);
          assert.match(e.message, /^config[.:]/);
          count('config refused');
        }
      }),
      { numRuns: 3000, seed: 13 },
    );
  });

  it('spawned CLI (20 generated cases, training included): exit 0/2/3, one stderr line on 2, never a stack trace', () => {
    buildOnce();
    const out = tmpDir('fuzz');
    dirs.push(out);
    // Train cases: tiny, CPU, at most 3 steps, plus generated flags that stay cheap.
    const trainArgs = fc.tuple(
      fc.integer({ min: 1, max: 3 }),
      fc.option(flag('lr', mix('0.01', '0.003', '1')), { nil: undefined }),
      fc.option(flag('batch-size', fc.constantFrom('1', '2', '4', '2', '0', '-3', 'x', '99999999')), { nil: undefined }),
      fc.option(flag('param', paramValue), { nil: undefined }),
      fc.option(flag('seed', mix('0', '7', '4294967295')), { nil: undefined }),
      fc.option(flag('tokenizer', fc.constantFrom('byte', 'byte', 'byte', 'bpe')), { nil: undefined }),
    ).map(([steps, ...rest]) => ['train', '--preset', 'tiny', '--ep', 'cpu', '--steps', String(steps), '--out', out, '--eval-every', '0', ...rest.filter((x): x is string[] => !!x).flat()]);
    const cases = [
      ...fc.sample(trainArgs, { numRuns: 8, seed: 21 }),
      ...fc.sample(argvFor(PLAN_FLAGS, false), { numRuns: 3, seed: 22 }).map((a) => ['plan', ...a]),
      ...fc.sample(argvFor(EVAL_FLAGS, false), { numRuns: 3, seed: 23 }).map((a) => ['evaluate', ...a]),
      ...fc.sample(argvFor(HP_FLAGS, false), { numRuns: 3, seed: 24 }).map((a) => ['hparams', ...a]),
      ...fc.sample(argvFor(GROWTH_FLAGS, false), { numRuns: 3, seed: 25 }).map((a) => ['growth', ...a]),
    ];
    for (const argv of cases) {
      const r = shapelabSync(argv, { timeoutMs: 60_000 });
      const where = `shapelab ${argv.map((a) => JSON.stringify(a)).join(' ')}`;
      assert.ok(r.code === 0 || r.code === 2 || r.code === 3, `${where}: exit ${r.code} ${r.signal ?? ''}: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /internal error|\n\s+at /, where);
      if (r.code === 2) {
        assert.equal(r.stderr.trimEnd().split('\n').length, 1, `${where}: ${r.stderr}`);
        assert.match(r.stderr, /^shapelab: /);
      }
      if (r.code === 0 && !r.stdout.trim().startsWith('{')) assert.doesNotMatch(r.stdout, /\bNaN\b|Infinity/, where);
      count(`spawned ${argv[0]} exit ${r.code}`);
    }
    assert.equal(cases.length, 20);
    assert.ok(fs.readdirSync(out).length >= 1, `no generated train case trained: ${JSON.stringify(counts)}`);
  });
});
