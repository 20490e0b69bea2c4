import type { Command } from '../command';
import { num, optNum, parse } from '../args';
import { UserError } from '../errors';
import { parseParam, parsePrecision, printJson, userErrors, joinNegativeNumbers } from '../plan-cli';
import { evaluateShape, FLOPS_CONVENTIONS, type Evaluation } from '../../core/plan';
import { gib, hours, int, sci, si } from '../../core/plan/format';

const HELP = `usage: shapelab evaluate --d-model W --layers L [--heads H] [--d-ff F] [--seq T] [--vocab V]
                         (--tokens D | --flops C) [--gpu G [--gpus K]]
                         [--param completep|alpha0.5|mup|sp] [--precision fp32|bf16] [--json]

Everything the planner knows about one shape: parameter counts, FLOPs per token under each
convention, AdamW training memory per GPU (with the cheapest of DDP, FSDP, activation
checkpointing that fits), predicted loss, predicted time on the GPU, growth plan.
Defaults (the same as the planner view's): head size 128 (64 when 128 does not divide d_model),
d_ff 4*d_model, seq 2048, vocab 50304, 1 GPU, precision bf16 on GPUs with bf16 tensor cores
(fp32 for --gpu local and GPUs without them).`;

const GIB = 2 ** 30;

function render(e: Evaluation): string {
  const p = e.paramCounts;
  const m = e.memory;
  const lines = [
    `shape: d_model ${e.dModel}, ${e.nLayers} layers, ${e.nHeads} heads x ${e.dHead}, d_ff ${e.dFf}, seq ${e.seq}, vocab ${e.vocab} (tied embeddings); N:L ${e.widthDepthRatio.toFixed(1)}`,
    `params: total ${int(p.total)} (${si(p.total)}); non-embedding ${int(p.nonEmbedding)}; per block ${int(p.perBlock)}; token emb ${int(p.tokenEmbedding)}, position emb ${int(p.positionEmbedding)}, LayerNorm ${int(p.layerNorm)}, biases ${int(p.biases)}`,
    `FLOPs/token (training): ${FLOPS_CONVENTIONS.map((c) => `${c} ${sci(e.flopsPerTokenByConvention[c])}`).join(', ')}  [using ${e.flopsConvention}]`,
    `budget: ${si(e.tokens)} tokens (${e.tokensPerParam.toFixed(1)} tokens/param), ${sci(e.trainingFlops)} FLOPs`,
    `memory/GPU at micro-batch ${e.microBatch}, ${e.memorySetting} (${e.precision === 'bf16' ? 'bf16 autocast, fp32 master weights' : 'fp32'} AdamW${m.shards > 1 ? `, states sharded over ${m.shards} GPUs` : ''}): weights ${(m.weights / GIB).toFixed(2)} + grads ${(m.gradients / GIB).toFixed(2)} + moments ${(m.optimizer / GIB).toFixed(2)} + ${e.fsdp ? 'gathered blocks' : 'copies/buckets'} ${(m.transient / GIB).toFixed(2)} + activations ${(m.activations / GIB).toFixed(2)} (logits ${(m.logits / GIB).toFixed(2)}) = ${gib(m.total)}`,
    `predicted loss: ${e.predictedLoss.toFixed(4)} = ${e.scalingLoss.toFixed(4)} (${e.fit}) x (1 + ${(e.penalty * 100).toFixed(2)}% ${e.parameterization} shape penalty)`,
  ];
  if (e.memoryAdvice) lines.push(`  warning: ${e.memoryAdvice}`);
  if (e.hardware && e.step && e.predictedHours !== null) {
    lines.push(
      `time on ${e.gpus} x ${e.hardware.name} (${e.precision}): ${hours(e.predictedHours)} wall-clock (${(e.gpuHours as number) >= 1 ? int(e.gpuHours as number) : +(e.gpuHours as number).toPrecision(3)} GPU-hours); micro-step ${(e.step.microStepSeconds * 1000).toFixed(1)} ms for ${int(e.step.tokensPerMicroStep)} tokens/GPU; ${int(e.optimizerSteps)} optimizer steps of ${si(e.batchSize * e.gradAccum * e.seq)} tokens; implied MFU ${((e.achievedMfu as number) * 100).toFixed(1)}%`,
      `  GPU data: ${e.hardware.source}`,
      `  efficiency: GEMMs at ${e.efficiency.gemm} x peak, +${e.efficiency.layerMs} ms/block, +${e.efficiency.stepMs} ms/micro-step -- ${e.efficiency.source}`,
    );
  } else lines.push('time: give --gpu to predict wall-clock');
  const g = e.growth;
  lines.push(`G_stack (g = ${g.factor}): small model ${g.smallModel.dModel} x ${g.smallModel.nLayers} for ${si(g.growthTokens)} tokens (${(g.flopSplit.smallFraction * 100).toFixed(1)}% of FLOPs)${g.schedule ? `, then ${g.schedule.description}` : ''}${g.inFitRange ? '' : '; outside the fit range'}${g.recommended ? '; recommended' : ''}`);
  for (const w of g.warnings) lines.push(`  warning: ${w}`);
  return lines.join('\n');
}

export const command: Command = {
  summary: 'parameters, FLOPs, memory, loss and time of one given shape',
  async run(argv) {
    const { values: v } = parse(joinNegativeNumbers(argv), {
      'd-model': { type: 'string' },
      layers: { type: 'string' },
      heads: { type: 'string' },
      'd-ff': { type: 'string' },
      seq: { type: 'string' },
      vocab: { type: 'string' },
      tokens: { type: 'string' },
      flops: { type: 'string' },
      gpu: { type: 'string' },
      gpus: { type: 'string' },
      param: { type: 'string' },
      precision: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    });
    if (v.help) {
      process.stdout.write(HELP + '\n');
      return 0;
    }
    if ((v.tokens === undefined) === (v.flops === undefined)) throw new UserError('give exactly one of --tokens D or --flops C');
    if (v.gpus !== undefined && v.gpu === undefined) throw new UserError('--gpus needs --gpu');
    const dModel = num(v['d-model'], '--d-model', { integer: true, positive: true });
    const nHeads = optNum(v.heads, '--heads', { integer: true, positive: true });
    if (nHeads !== undefined && dModel % nHeads !== 0) throw new UserError(`--d-model ${dModel} is not divisible by --heads ${nHeads}`);
    const e = userErrors(() =>
      evaluateShape({
        dModel,
        nLayers: num(v.layers, '--layers', { integer: true, positive: true }),
        nHeads,
        dFf: optNum(v['d-ff'], '--d-ff', { integer: true, positive: true }),
        seq: optNum(v.seq, '--seq', { integer: true, positive: true }),
        vocab: optNum(v.vocab, '--vocab', { integer: true, positive: true }),
        tokens: optNum(v.tokens, '--tokens', { positive: true }),
        flops: optNum(v.flops, '--flops', { positive: true }),
        hardware: v.gpu as string | undefined,
        gpus: optNum(v.gpus, '--gpus', { integer: true, positive: true }),
        parameterization: parseParam(v.param),
        precision: parsePrecision(v.precision),
      }),
    );
    if (v.json) printJson(e);
    else process.stdout.write(render(e) + '\n');
    return 0;
  },
};
