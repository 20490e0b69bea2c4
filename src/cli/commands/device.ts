import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { localHardwareFile, parseHardwareDocument } from '../../core/plan/hardware';
import { deviceReport, type DeviceReport } from '../../core/train/deviceInfo';
import { isVerbose } from '../../core/train/epFailure';
import type { Ep } from '../../core/train/runtime';
import { optNum, parse } from '../args';
import { UserError } from '../errors';
import type { Command } from '../command';

const HELP = `usage: shapelab device [--json] [--ep webgpu|cpu] [--save] [--memory-gb G]
Lists onnxruntime's execution providers and whether a WebGPU adapter works, and measures float32
MatMul throughput and memory bandwidth on each usable one. --save records the fastest as the
planner's hardware entry 'local' (in ${'$'}SHAPELAB_HARDWARE_FILE or ~/.shapelab/hardware.json), so
'shapelab plan --gpu local' plans for this machine. WebGPU does not report device memory: pass
--memory-gb for a GPU (default: this host's memory).`;

/** The planner entry for this machine, from the fastest measured provider. */
export function localEntry(r: DeviceReport, memoryGB?: number) {
  const best = [...r.measurements].sort((a, b) => b.matmulTflops - a.matmulTflops)[0];
  if (!best) throw new UserError('no execution provider could be measured');
  return {
    name: 'local',
    displayName: `this machine (${best.ep === 'cpu' ? r.host.cpuModel : 'WebGPU adapter'}, measured)`,
    fp32Tflops: +best.matmulTflops.toFixed(3),
    bf16Tflops: null,
    memoryGB: +(memoryGB ?? r.host.memoryGB).toFixed(1),
    bandwidthTBs: +best.bandwidthTBs.toFixed(4),
    source: `measured by 'shapelab device' on ${new Date().toISOString().slice(0, 10)} through onnxruntime-node ${best.ep} (float32 MatMul, inputs resident)`,
    sourceKind: 'user',
  };
}

/** Which providers this machine can train on, e.g. "cpu (usable), webgpu (usable), cuda (not installed)". */
export function epSummary(r: DeviceReport): string {
  const state = (name: string) => {
    if (name === 'cpu') return 'usable';
    if (name === 'webgpu') return r.webgpu.usable ? 'usable' : 'no adapter';
    if (name === 'cuda') return r.cuda.usable ? 'usable' : r.cuda.installed ? 'installed, libraries missing' : 'not installed: shapelab setup cuda';
    return 'not used by ShapeLab';
  };
  return r.backends.map((b) => `${b.name} (${state(b.name)})`).join(', ');
}

export const command: Command = {
  summary: 'list execution providers, measure MatMul throughput here; --save as hardware entry local',
  async run(argv) {
    const { values: v } = parse(argv, { json: { type: 'boolean' }, save: { type: 'boolean' }, ep: { type: 'string' }, 'memory-gb': { type: 'string' }, help: { type: 'boolean' } });
    if (v.help) {
      process.stdout.write(HELP + '\n');
      return 0;
    }
    if (v.ep && v.ep !== 'webgpu' && v.ep !== 'cpu') throw new UserError(`--ep: expected webgpu or cpu (got '${v.ep}')`);
    const memoryGB = optNum(v['memory-gb'], '--memory-gb', { positive: true });
    const r = await deviceReport({ eps: v.ep ? [v.ep as Ep] : undefined });
    if (v.ep === 'webgpu' && !r.webgpu.usable) throw new UserError(`WebGPU is not usable here: ${r.webgpu.reason}${isVerbose() ? ` [onnxruntime: ${r.webgpu.detail}]` : ''}`);
    let saved: string | undefined;
    if (v.save) {
      const file = localHardwareFile();
      const entry = localEntry(r, memoryGB);
      parseHardwareDocument(entry, file); // same validation the planner applies when it loads it
      let others: unknown[] = [];
      if (existsSync(file)) {
        try {
          const doc = JSON.parse(readFileSync(file, 'utf8'));
          others = (Array.isArray(doc) ? doc : Array.isArray(doc?.gpus) ? doc.gpus : [doc]).filter((e: { name?: string }) => e?.name !== 'local');
        } catch {
          throw new UserError(`${file} exists but is not valid JSON; fix or remove it before --save`);
        }
      }
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, JSON.stringify({ gpus: [...others, entry] }, null, 2) + '\n');
      saved = file;
    }
    if (v.json) {
      process.stdout.write(JSON.stringify({ ...r, saved }, null, 2) + '\n');
      return 0;
    }
    const verbose = (d?: string) => (isVerbose() && d ? ` [onnxruntime: ${d}]` : '');
    const lines = [`execution providers: ${epSummary(r)}`,
      `WebGPU adapter: ${r.webgpu.usable ? 'usable' : `not usable: ${r.webgpu.reason}${verbose(r.webgpu.detail)}`}`,
      `CUDA: ${r.cuda.usable ? 'usable' : !r.cuda.offered ? 'not offered by onnxruntime-node on this platform' : `not usable: ${r.cuda.reason}${verbose(r.cuda.detail)}`}`,
      `host: ${r.host.cpus} x ${r.host.cpuModel}, ${r.host.memoryGB.toFixed(1)} GB`, '', 'ep       MatMul fp32 (TFLOP/s by n)                  best   bandwidth'];
    for (const m of r.measurements) lines.push(`${m.ep.padEnd(8)} ${m.bySize.map((b) => `${b.n}: ${b.tflops.toFixed(3)}`).join('  ').padEnd(42)} ${m.matmulTflops.toFixed(3).padStart(6)}   ${(m.bandwidthTBs * 1000).toFixed(1)} GB/s`);
    if (saved) lines.push('', `saved hardware entry 'local' to ${saved}: shapelab plan --gpu local ...`);
    process.stdout.write(lines.join('\n') + '\n');
    return 0;
  },
};
