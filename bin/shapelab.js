#!/usr/bin/env node
// Thin launcher: the CLI is bundled by esbuild into dist/cli.js (npm run build).
const path = require('node:path');
const fs = require('node:fs');
const bundle = path.join(__dirname, '..', 'dist', 'cli.js');
if (!fs.existsSync(bundle)) {
  process.stderr.write('shapelab: dist/cli.js is missing; run `npm run build` first\n');
  process.exit(2);
}
const args = process.argv.slice(2);
// onnxruntime and Dawn write to the process's stderr from C++ (Dawn's "Warning: ... at
// (/build/.../dawn-src/...cpp:106)", onnxruntime's "[E:onnxruntime:..., provider_bridge_ort.cc:...]"),
// which no JavaScript setting silences entirely. Without --verbose the CLI runs as a child whose
// stderr passes through a filter that drops those lines; the CLI's own messages say in plain words
// what they meant (src/core/train/epFailure.ts).
const verbose = args.includes('--verbose') || process.env.SHAPELAB_VERBOSE === '1';
if (verbose || process.env.SHAPELAB_NATIVE_FILTER === 'child' || process.env.SHAPELAB_NATIVE_FILTER === 'off') {
  require(bundle).main(args);
} else {
  require(path.join(__dirname, 'nativeFilter.js')).runFiltered(__filename, args);
}
