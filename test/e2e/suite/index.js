// Extension-host test entry (loaded by VS Code through extensionTestsPath): runs *.e2e.js with mocha.
const path = require('path');
const fs = require('fs');
const Mocha = require('mocha');
exports.run = function run() {
  const mocha = new Mocha({ ui: 'bdd', timeout: 60000, color: false, reporter: 'spec' });
  for (const f of fs.readdirSync(__dirname)) if (f.endsWith('.e2e.js')) mocha.addFile(path.join(__dirname, f));
  return new Promise((resolve, reject) => {
    const runner = mocha.run((failures) => {
      const file = process.env.E2E_RESULT_FILE || path.join(require('os').tmpdir(), 'shapelab-ext-test-result.json');
      fs.writeFileSync(file, JSON.stringify({ failures, passes: runner.stats && runner.stats.passes, tests: runner.stats && runner.stats.tests, at: new Date().toISOString(), node: process.version }));
      failures > 0 ? reject(new Error(`${failures} extension-host tests failed`)) : resolve();
    });
  });
};
