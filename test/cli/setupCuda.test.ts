/**
 * Installing without onnxruntime-node's CUDA download, and adding it on request.
 * - The project .npmrc sets onnxruntime-node-install=skip: npm reports it, and onnxruntime-node's
 *   postinstall (script/install.js) exits 0 at once under the environment npm derives from it
 *   (npm_config_onnxruntime_node_install). Without it the same script tries NuGet and fails offline,
 *   which is what broke `npm ci` (the contrast shows the check can fail).
 * - `shapelab setup cuda` offline: one line, exit code 2. The network is made unreachable for sure
 *   by a proxy on a closed port (the installer's global-agent honours GLOBAL_AGENT_HTTPS_PROXY) when
 *   this machine happens to resolve api.nuget.org, so the test never downloads anything.
 * - `shapelab device` says which providers are present, CUDA included.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { lookup } from 'node:dns/promises';
import * as path from 'node:path';
import { classifyInstaller } from '../../src/core/train/cudaSetup';
import { cudaProviderInstalled } from '../../src/core/train/cudaProvider';

const root = path.join(__dirname, '..', '..');
const cli = path.join(root, 'bin', 'shapelab.js');
const installJs = path.join(root, 'node_modules', 'onnxruntime-node', 'script', 'install.js');
const DEAD_PROXY = 'http://127.0.0.1:9';
/** An environment with none of the install switches the user might have set. */
function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (/^(npm_|ONNXRUNTIME_NODE_INSTALL)/i.test(k)) delete env[k];
  return { ...env, ...extra };
}

describe('install without the CUDA download; `shapelab setup cuda`', function () {
  this.timeout(300_000);
  let offline: NodeJS.ProcessEnv;
  before(async () => {
    const b = spawnSync(process.execPath, ['esbuild.mjs'], { cwd: root, encoding: 'utf8' });
    assert.equal(b.status, 0, b.stderr);
    const resolves = await lookup('api.nuget.org').then(() => true, () => false);
    offline = resolves ? { GLOBAL_AGENT_HTTPS_PROXY: DEAD_PROXY } : {};
  });

  it('the project .npmrc gives onnxruntime-node-install = skip, and the postinstall then exits 0 offline', () => {
    const got = spawnSync('npm', ['config', 'get', 'onnxruntime-node-install'], { cwd: root, encoding: 'utf8', env: cleanEnv() });
    assert.equal(got.status, 0, got.stderr);
    assert.equal(got.stdout.trim(), 'skip');
    // The environment npm gives lifecycle scripts (npm exec derives it the same way from .npmrc).
    const derived = spawnSync('npm', ['exec', '-c', 'node -p process.env.npm_config_onnxruntime_node_install'], { cwd: root, encoding: 'utf8', env: cleanEnv() });
    assert.equal(derived.status, 0, derived.stderr);
    assert.equal(derived.stdout.trim(), 'skip');
    const withSkip = spawnSync(process.execPath, [installJs], { cwd: path.dirname(path.dirname(installJs)), encoding: 'utf8', env: cleanEnv({ ...offline, npm_config_onnxruntime_node_install: derived.stdout.trim() }), timeout: 60_000 });
    assert.equal(withSkip.status, 0, withSkip.stderr);
    assert.equal(withSkip.stdout + withSkip.stderr, '');
    // The contrast: without the setting the same script goes to NuGet, and offline that fails.
    if (cudaProviderInstalled()) return; // nothing to download here: the installer would exit 0 anyway
    const without = spawnSync(process.execPath, [installJs], { cwd: path.dirname(path.dirname(installJs)), encoding: 'utf8', env: cleanEnv(offline), timeout: 60_000 });
    assert.notEqual(without.status, 0);
    assert.equal(classifyInstaller(without.status, without.stdout + without.stderr), 'no-network');
  });

  it('`shapelab setup cuda` offline: one line, exit code 2, and nothing was installed', function () {
    if (cudaProviderInstalled()) this.skip(); // already there: setup would only probe
    const r = spawnSync(process.execPath, [cli, 'setup', 'cuda'], { cwd: root, encoding: 'utf8', env: cleanEnv(offline), timeout: 120_000 });
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stdout, '');
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], /^shapelab: no network: could not download onnxruntime-node 1\.30\.0's CUDA provider from NuGet \((getaddrinfo ENOTFOUND api\.nuget\.org|connect ECONNREFUSED 127\.0\.0\.1:9|.*E[A-Z]+.*)\); connect to the internet .* and run `shapelab setup cuda` again$/);
    assert.equal(cudaProviderInstalled(), false);
  });

  it('`shapelab setup` without `cuda` is one line, exit 2', () => {
    const r = spawnSync(process.execPath, [cli, 'setup', 'rocm'], { cwd: root, encoding: 'utf8', env: cleanEnv() });
    assert.equal(r.status, 2);
    assert.deepEqual(r.stderr.trim().split('\n'), ["shapelab: setup: expected 'setup cuda' (got 'rocm'); see shapelab setup --help"]);
  });

  it("the installer's outcomes: network errors as Node words them, anything else a failure", () => {
    assert.equal(classifyInstaller(0, ''), 'ok');
    assert.equal(classifyInstaller(1, "Error: getaddrinfo EAI_AGAIN api.nuget.org\n    at GetAddrInfoReqWrap"), 'no-network');
    assert.equal(classifyInstaller(1, 'Error: Failed to find runtimes/linux-x64/native/libonnxruntime_providers_cuda.so in NuGet package'), 'failed');
  });

  it('`shapelab device` lists the providers and the state of each, CUDA included', () => {
    const r = spawnSync(process.execPath, [cli, 'device', '--ep', 'cpu', '--json'], { cwd: root, encoding: 'utf8', env: cleanEnv(), timeout: 300_000 });
    assert.equal(r.status, 0, r.stderr);
    const rep = JSON.parse(r.stdout);
    assert.equal(rep.cuda.installed, cudaProviderInstalled());
    if (!rep.cuda.installed) {
      assert.equal(rep.cuda.usable, false);
      assert.match(rep.cuda.reason, /shapelab setup cuda/);
    }
    const t = spawnSync(process.execPath, [cli, 'device', '--ep', 'cpu'], { cwd: root, encoding: 'utf8', env: cleanEnv(), timeout: 300_000 });
    assert.equal(t.status, 0, t.stderr);
    assert.match(t.stdout, /^execution providers: cpu \(usable\), webgpu \((usable|no adapter)\), cuda \((usable|installed, libraries missing|not installed: shapelab setup cuda)\)/m);
    assert.match(t.stdout, /^CUDA: /m);
  });
});
