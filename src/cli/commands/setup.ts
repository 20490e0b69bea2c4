import { cudaFailure } from '../../core/train/epChoice';
import { isVerbose } from '../../core/train/epFailure';
import { setupCuda } from '../../core/train/cudaSetup';
import { parse } from '../args';
import type { Command } from '../command';
import { UserError } from '../errors';

const HELP = `usage: shapelab setup cuda [--json] [--verbose]
Adds onnxruntime-node's CUDA execution provider: runs onnxruntime-node's own installer
(node_modules/onnxruntime-node/script/install.js --onnxruntime-node-install=cuda12), which downloads the
provider for the installed onnxruntime-node version from NuGet (npm ci skips it: see .npmrc), then checks
that a CUDA session starts. Needs network once, an NVIDIA driver, CUDA 12 and cuDNN 9.
Exit code 0: installed or already there and working; 2: no network, CUDA/cuDNN missing, or no CUDA
provider for this platform; 1: the installer failed otherwise.`;

export const command: Command = {
  summary: "add onnxruntime-node's CUDA execution provider (setup cuda)",
  async run(argv) {
    const { values: v, positionals } = parse(argv, { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, true);
    if (v.help) {
      process.stdout.write(HELP + '\n');
      return 0;
    }
    if (positionals.length !== 1 || positionals[0] !== 'cuda') throw new UserError(`setup: expected 'setup cuda' (got '${positionals.join(' ') || '(nothing)'}'); see shapelab setup --help`);
    const r = await setupCuda({ probe: cudaFailure });
    if (v.json) {
      process.stdout.write(JSON.stringify(r, null, 2) + '\n');
      return r.outcome === 'installed' || r.outcome === 'already-there' ? 0 : r.outcome === 'installer-failed' ? 1 : 2;
    }
    if (isVerbose() && r.detail) process.stderr.write(r.detail.trimEnd() + '\n');
    if (r.outcome === 'installed' || r.outcome === 'already-there') {
      process.stdout.write(r.message + '\n');
      return 0;
    }
    throw new UserError(r.message, r.outcome === 'installer-failed' ? 1 : 2);
  },
};
