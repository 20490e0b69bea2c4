import type { Command } from '../command';
import { num, optNum, parse } from '../args';
import { UserError } from '../errors';
import { parseParam, parsePrecision, printJson, userErrors, joinNegativeNumbers } from '../plan-cli';
import { isScalingFitId, loadLocalFit, planShapes, type Budget, type PlanResult } from '../../core/plan';
import { hours, int, sci, si, table } from '../../core/plan/format';

const HELP = `usage: shapelab plan --flops C | --gpu-hours H  [--gpu NAME|FILE.json|'{json}'] [--gpus K]
                     [--seq T] [--vocab V] [--param completep|alpha0.5|mup|sp] [--precision fp32|bf16] [--top N]
                     [--fit besiroglu|chinchilla|FIT.json|STUDY_DIR] [--json]

Searches model shapes for a compute budget and ranks them by predicted loss
(scaling law x shape penalty), with predicted wall-clock on the GPU, the
loss-vs-time Pareto front, and a G_stack growth plan for the best shape.
  --flops C        training FLOP budget (e.g. 1e20)
  --gpu-hours H    or: a budget in GPU-hours on --gpu (tokens then depend on the shape's speed)
  --gpu NAME       h100-sxm, a100, rtx-4090, ..., local, a JSON file or an inline JSON entry
  --gpus K         data-parallel GPUs (default 1); the model states are sharded over them with
                   FSDP when a shape does not fit otherwise
  --seq T          context length (default 2048)
  --vocab V        vocabulary size (default 50304)
  --param P        parameterization for the shape penalty (default completep)
  --precision P    time/memory model: bf16 (default on GPUs with 16-bit tensor cores: the exported
                   train.py's autocast, fp32 master weights) or fp32 (default for --gpu local,
                   ShapeLab's own trainer, and GPUs without bf16)
  --top N          candidates shown (default 10)
  --fit F          scaling law: besiroglu (default), chinchilla, or a local fit written by
                   'shapelab fit' (a fit.json or a study folder holding one): losses are then in
                   your units, with a 95% bootstrap band, and its measured depth penalty
  --json           machine-readable output (export torch --plan takes it; --pick N)

Memory: per shape the cheapest setting that fits is chosen (plain DDP, then FSDP sharding of
weights, gradients and AdamW state over the GPUs, then activation checkpointing, then a smaller
micro-batch); the 'memory' column shows it and the export passes it on. A plan capped by memory
says "memory-bound:" and what would fit the better shape.`;

export const command: Command = {
  summary: 'search model shapes for a compute budget on a GPU',
  async run(argv) {
    const { values: v } = parse(joinNegativeNumbers(argv), {
      flops: { type: 'string' },
      'gpu-hours': { type: 'string' },
      gpu: { type: 'string' },
      gpus: { type: 'string' },
      seq: { type: 'string' },
      vocab: { type: 'string' },
      param: { type: 'string' },
      precision: { type: 'string' },
      top: { type: 'string' },
      fit: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    });
    if (v.help) {
      process.stdout.write(HELP + '\n');
      return 0;
    }
    if ((v.flops === undefined) === (v['gpu-hours'] === undefined)) throw new UserError('give exactly one budget: --flops C or --gpu-hours H');
    const budget: Budget = v.flops !== undefined ? { flops: num(v.flops, '--flops', { positive: true }) } : { gpuHours: num(v['gpu-hours'], '--gpu-hours', { positive: true }) };
    if (budget.gpuHours !== undefined && v.gpu === undefined) throw new UserError('--gpu-hours needs --gpu');
    const result = userErrors(() =>
      planShapes({
        budget,
        hardware: v.gpu as string | undefined,
        gpus: optNum(v.gpus, '--gpus', { integer: true, positive: true }),
        seq: optNum(v.seq, '--seq', { integer: true, positive: true }),
        vocab: optNum(v.vocab, '--vocab', { integer: true, positive: true }),
        parameterization: parseParam(v.param),
        precision: parsePrecision(v.precision),
        top: optNum(v.top, '--top', { integer: true, positive: true }),
        fit: v.fit === undefined ? undefined : isScalingFitId(String(v.fit)) ? (String(v.fit) as 'besiroglu') : loadLocalFit(String(v.fit)),
      }),
    );
    if (v.json) printJson(result);
    else process.stdout.write(renderPlan(result) + '\n');
    return 0;
  },
};

/** Hours in the table: plain numbers (the header says the unit), three significant digits, whole hours from 1,000. */
function hoursCell(h: number): string {
  if (h >= 1e7) return sci(h);
  if (h >= 1000) return int(h);
  return String(+h.toPrecision(3));
}

function pct(x: number): string {
  return `${(x * 100).toFixed(2)}%`;
}

export function renderPlan(r: PlanResult): string {
  const c = r.context;
  const out: string[] = [];
  const budget = c.budget.flops !== undefined ? `${sci(c.budget.flops)} FLOPs` : `${c.budget.gpuHours} GPU-hours`;
  const hw = c.hardware ? `${c.gpus} x ${c.hardware.displayName} (${c.precision} peak ${c.hardware.peakTflops} TFLOP/s)` : 'no GPU (no time or memory limits)';
  out.push(`ShapeLab plan: ${budget} on ${hw}; seq ${c.seq}, vocab ${c.vocab}, ${c.tiedEmbeddings ? 'tied' : 'untied'} embeddings, ${c.parameterization}`);
  if (c.hardware) {
    out.push(`  GPU data: ${c.hardware.source} [${c.hardware.sourceKind}]`);
    out.push(`  efficiency: GEMMs at ${c.mfu} x peak (x tile/wave/alignment), +${c.efficiency.layerMs} ms/block, +${c.efficiency.stepMs} ms/micro-step -- ${c.efficiency.source}`);
    if (c.memoryCapacityGiB !== null) out.push(`  memory: ${c.memoryCapacityGiB.toFixed(1)} GiB usable per GPU; ${c.precision === 'bf16' ? `bf16 autocast, fp32 master weights, grads and AdamW state (16 B/param${c.gpus > 1 ? ', sharded with FSDP when needed' : ''})` : 'fp32 weights, grads and AdamW state (16 B/param)'}; attention ${c.flashAttention ? 'SDPA (no T x T scores stored)' : 'explicit (T x T scores stored)'}`);
  }
  out.push(`  loss: ${c.fit.name} (${c.fit.source}) x (1 + shape penalty); FLOPs/token: ${c.flopsConvention.id} = ${c.flopsConvention.formula}`);
  if (r.reference) {
    const o = r.reference.computeOptimal;
    const f = r.reference.fixedTokensPerParam;
    out.push(`  reference (C = 6ND): compute-optimal N* ${si(o.params)}, D* ${si(o.tokens)} (${o.tokensPerParam.toFixed(1)} tokens/param); 20 tokens/param: N ${si(f.params)}, D ${si(f.tokens)}`);
  }
  out.push('');
  if (r.candidates.length === 0) {
    out.push('No shape satisfies the constraints.');
  } else {
    const banded = r.candidates.some((x) => x.lossBand);
    const rows = r.candidates.map((x, i) => [
      String(i + 1),
      String(x.dModel),
      String(x.nLayers),
      String(x.nHeads),
      String(x.dHead),
      String(x.dFf),
      si(x.params),
      si(x.nonEmbeddingParams),
      x.widthDepthRatio.toFixed(1),
      si(x.tokens),
      x.tokensPerParam.toFixed(1),
      x.predictedLoss.toFixed(4),
      ...(banded ? [x.lossBand ? `${x.lossBand[0].toFixed(3)}-${x.lossBand[1].toFixed(3)}` : '-'] : []),
      pct(x.penalty),
      x.predictedHours === null ? '-' : hoursCell(x.predictedHours),
      x.memoryGiB.toFixed(1),
      x.memorySetting,
      String(x.microBatch),
      x.pareto ? '*' : '',
    ]);
    out.push(table(['#', 'd_model', 'layers', 'heads', 'd_head', 'd_ff', 'params', 'non-emb', 'N:L', 'tokens', 'tok/param', 'loss', ...(banded ? ['loss 95%'] : []), 'penalty', 'hours', 'GiB/GPU', 'memory', 'mb', 'pareto'], rows));
    const b = r.candidates[0];
    out.push('');
    out.push(
      `#1 trains with ${b.memorySetting}${b.fsdp ? ' (weights, gradients and AdamW state sharded over the GPUs)' : ''}${b.activationCheckpointing ? ' and activation checkpointing (+1/3 compute)' : ''} at micro-batch ${b.microBatch}/GPU x ${c.gpus} GPUs x ${b.gradAccum} accumulated = ${si(b.batchSize * b.gradAccum * c.seq)} tokens per step, ${int(b.optimizerSteps)} steps.`,
    );
  }
  for (const w of r.warnings) out.push(`warning: ${w}`);
  if (r.pareto.length > 0) {
    const fastest = r.pareto[0];
    out.push('');
    out.push(`Pareto front (loss vs hours): ${r.pareto.length} shapes, from ${fastest.dModel}x${fastest.nLayers} (${fastest.predictedLoss.toFixed(4)}, ${hours(fastest.predictedHours)}) to ${r.pareto[r.pareto.length - 1].dModel}x${r.pareto[r.pareto.length - 1].nLayers} (${r.pareto[r.pareto.length - 1].predictedLoss.toFixed(4)}, ${hours(r.pareto[r.pareto.length - 1].predictedHours)}); --json lists them.`);
  }
  const g = r.growth;
  if (g) {
    const s = g.smallModel;
    out.push('');
    out.push(`G_stack growth (g = ${g.factor}): train ${s.dModel} x ${s.nLayers} layers (${si(s.params)} params) for ${si(g.growthTokens)} tokens, then ${g.schedule ? g.schedule.description : `stack ${g.factor}x`}; small phase ${pct(g.flopSplit.smallFraction)} of the FLOPs, grown model then gets ${si(g.flopSplit.largeTokens)} tokens.`);
    out.push(`  ${g.recommended ? 'recommended: export torch --plan grows by default' : 'not recommended (see the warnings): export torch --plan trains from scratch unless --growth'}`);
    out.push(`  timing fit: ${g.formula} (${g.source})${g.inFitRange ? '' : ' -- OUTSIDE its fitted range'}`);
    for (const w of g.warnings) out.push(`  warning: ${w}`);
    out.push(`  paper context, not our prediction: ${g.reportedSpeedups[0].claim} (${g.reportedSpeedups[0].source})`);
  }
  out.push('');
  const rej = Object.entries(r.stats.rejected).filter(([, n]) => n > 0).map(([k, n]) => `${int(n)} ${k}`).join(', ');
  out.push(`Searched ${int(r.stats.enumerated)} shapes (${int(r.stats.feasible)} feasible${rej ? '; rejected: ' + rej : ''}) in ${r.stats.elapsedMs.toFixed(0)} ms.`);
  for (const n of r.notes) out.push(`note: ${n}`);
  return out.join('\n');
}
