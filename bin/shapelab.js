#!/usr/bin/env node
// Thin launcher: the CLI is bundled by esbuild into dist/cli.js (npm run build).
const path = require('node:path');
const fs = require('node:fs');
const bundle = path.join(__dirname, '..', 'dist', 'cli.js');
if (!fs.existsSync(bundle)) {
  process.stderr.write('shapelab: dist/cli.js is missing; run `npm run build` first\n');
  process.exit(2);
}
require(bundle).main(process.argv.slice(2));
