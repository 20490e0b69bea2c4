// Runs inside code-server's extension host (Node 24), against the extension under development.
const assert = require('assert');
const fs = require('fs');
const path = require('path');
const vscode = require('vscode');

const EXT_ID = 'shapelab.shapelab';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Malformed messages: wrong types, huge strings, prototype tricks, deep nesting, out-of-range numbers. */
function* fuzzMessages(n, seed = 42) {
  let s = seed;
  const rnd = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
  const pick = (a) => a[Math.floor(rnd() * a.length)];
  const types = ['ready', 'plan', 'detail', 'train', 'export', 'selectRun', 'stop', 'READY', '', 'constructor', '__proto__', 'toString'];
  const vals = () => pick([
    null, undefined, true, 0, -1, NaN, Infinity, -Infinity, 1e308, 2 ** 53, 'x'.repeat(1 + Math.floor(rnd() * 100000)),
    '../../../../etc/passwd', '/etc/passwd', 'C:\\Windows', '{"name":"x","fp32Tflops":1}', 'h100.json', [], [1, 2, 3], {}, { __proto__: { polluted: true } },
    JSON.parse('{"__proto__": {"polluted": 1}}'), Object.create(null), new Array(10000).fill(0), { toString: 5 },
  ]);
  const deep = (d) => (d === 0 ? vals() : { a: deep(d - 1), type: pick(types) });
  for (let i = 0; i < n; i++) {
    const kind = i % 6;
    if (kind === 0) yield vals();
    else if (kind === 1) yield { type: pick(types), shapeId: vals(), runId: vals(), format: vals(), requestId: vals(), request: vals() };
    else if (kind === 2) yield { type: 'plan', requestId: Math.floor(rnd() * 10), request: { budgetKind: pick(['flops', 'gpuHours', 'x']), budget: vals(), gpu: pick(['h100-sxm', vals()]), gpuCount: vals(), context: vals(), vocab: vals(), parameterization: pick(['completep', 'x', vals()]), fit: 'besiroglu', base: vals(), constraints: vals() } };
    else if (kind === 3) yield deep(1 + Math.floor(rnd() * 50));
    else if (kind === 4) yield { type: pick(types), runId: pick(['../x', 'a/b', '.', '..', 'fixture-growth-run\u0000', ' ', 'x'.repeat(200)]) };
    else yield { type: 'export', shapeId: 'd128-L2-h2-f512', format: pick(['json', 'torch', 'exe', 1]), extra: 'field' };
  }
}

describe('ShapeLab in a real VS Code (code-server extension host)', () => {
  let api;

  before(async () => {
    const ext = vscode.extensions.getExtension(EXT_ID);
    assert.ok(ext, `extension ${EXT_ID} found`);
    api = await ext.activate();
    assert.ok(ext.isActive, 'active');
    assert.ok(api && api.model && api.monitor, 'activate() returns the test API');
  });

  it('registers every contributed command', async () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(vscode.extensions.getExtension(EXT_ID).extensionPath, 'package.json'), 'utf8'));
    const want = pkg.contributes.commands.map((c) => c.command);
    const have = new Set(await vscode.commands.getCommands(true));
    const missing = want.filter((c) => !have.has(c));
    assert.deepStrictEqual(missing, [], `missing commands: ${missing.join(', ')}`);
    console.log(`  ${want.length} commands registered`);
  });

  it('lists runs from the runs folder; junk folders are skipped; torn lines ignored', async () => {
    api.model.refresh();
    const runs = api.model.summaries();
    const fixture = runs.find((r) => r.id === 'fixture-growth-run');
    assert.ok(fixture, `fixture run listed (have ${runs.map((r) => r.id).join(', ')})`);
    assert.strictEqual(fixture.status, 'done');
    assert.ok(api.model.select('fixture-growth-run'));
    const d = api.model.selectedData();
    assert.strictEqual(d.metrics.length, 400, 'the torn last line is not read');
    assert.strictEqual(d.events.filter((e) => e.type === 'growth').length, 1);
    const junk = runs.find((r) => r.id === 'junk-binary-run');
    if (junk) assert.ok(['new', 'crashed'].includes(junk.status), `junk status ${junk.status}`);
  });

  it('monitor view: malformed messages are rejected and the extension stays up', async () => {
    await vscode.commands.executeCommand('shapelab.focusMonitor');
    const before = { acc: api.monitor.accepted, rej: api.monitor.rejected };
    let n = 0;
    for (const m of fuzzMessages(3000, 7)) {
      api.monitor.handle(m); // must never throw
      n++;
    }
    const accepted = api.monitor.accepted - before.acc;
    const rejected = api.monitor.rejected - before.rej;
    console.log(`  monitor fuzz: ${n} messages, ${rejected} rejected, ${accepted} accepted`);
    assert.ok(rejected > n * 0.9, 'most fuzz messages are rejected');
    // selection is still one of our runs, never a path from a message
    assert.ok(!api.model.selectedId || api.model.has(api.model.selectedId));
    await vscode.commands.executeCommand('shapelab.refreshRuns');
  });

  it('planner panel: fuzzed messages are rejected; a valid plan request is answered', async () => {
    await vscode.commands.executeCommand('shapelab.planModelShape');
    await sleep(500);
    const panel = api.planner.current;
    assert.ok(panel, 'planner panel open');
    const s0 = { ...api.planner.stats };
    let n = 0;
    for (const m of fuzzMessages(3000, 11)) {
      panel.handle(m);
      n++;
    }
    const rej = api.planner.stats.rejected - s0.rejected;
    console.log(`  planner fuzz: ${n} messages, ${rej} rejected, ${api.planner.stats.accepted - s0.accepted} accepted`);
    assert.ok(rej > n * 0.9);
    const req = { budgetKind: 'flops', budget: 1e19, gpu: 'h100-sxm', gpuCount: 1, context: 1024, vocab: 50304, parameterization: 'completep', fit: 'besiroglu', base: { baseWidth: 256, baseDepth: 2, lr: 0.003, initStd: 0.02, eps: 1e-8, weightDecay: 0.1 }, constraints: {} };
    const acc0 = api.planner.stats.accepted;
    panel.handle({ type: 'plan', requestId: 1, request: req });
    assert.strictEqual(api.planner.stats.accepted, acc0 + 1);
    // hostile hardware names never reach the core's file/JSON loaders
    panel.handle({ type: 'plan', requestId: 2, request: { ...req, gpu: '/etc/passwd.json' } });
    panel.handle({ type: 'plan', requestId: 3, request: { ...req, gpu: '{"name":"x","fp32Tflops":1,"memoryGB":1,"bandwidthTBs":1}' } });
    assert.ok(vscode.extensions.getExtension(EXT_ID).isActive);
  });

  it('webview HTML has a strict CSP with a nonce and no inline scripts', async () => {
    const panel = api.planner.current;
    const doc = panel.panel.webview.html;
    const csp = /http-equiv="Content-Security-Policy" content="([^"]+)"/.exec(doc);
    assert.ok(csp, 'CSP meta present');
    assert.match(csp[1], /default-src 'none'/);
    assert.match(csp[1], /script-src 'nonce-[A-Za-z0-9]{16,}'/);
    assert.doesNotMatch(csp[1], /unsafe-inline|unsafe-eval/);
    const scripts = doc.match(/<script[^>]*>/g) || [];
    assert.ok(scripts.length >= 1 && scripts.every((s) => /nonce="[A-Za-z0-9]+"/.test(s) && /src="/.test(s)), 'every script has the nonce and a src');
    const roots = panel.panel.webview.options.localResourceRoots.map((u) => u.path);
    const extPath = vscode.extensions.getExtension(EXT_ID).extensionUri.path;
    assert.deepStrictEqual(roots.sort(), [`${extPath}/dist`, `${extPath}/media`].sort());
  });

  it('compare and rename commands: the comparison gets the runs asked for; a label is stored, the folder kept', async () => {
    api.model.refresh();
    const ids = api.model.summaries().filter((r) => r.group === 'fixture-study').map((r) => r.id);
    assert.strictEqual(ids.length, 3, `study runs listed (${ids.join(', ')})`);
    const got = await vscode.commands.executeCommand('shapelab.compareRuns', ids.slice(0, 2));
    assert.deepStrictEqual(got, ids.slice(0, 2));
    await sleep(500);
    const cp = api.comparePanel.current;
    assert.ok(cp, 'comparison panel open');
    for (let i = 0; i < 40 && !cp.lastPosted; i++) await sleep(250);
    assert.deepStrictEqual(cp.lastPosted.runs, ids.slice(0, 2));
    const dir = api.model.dirOf(ids[0]);
    const label = await vscode.commands.executeCommand('shapelab.renameRun', ids[0], 'smallest shape');
    assert.strictEqual(label, 'smallest shape');
    assert.ok(fs.existsSync(dir), 'folder kept');
    assert.strictEqual(api.model.summary(ids[0]).name, 'smallest shape');
    await vscode.commands.executeCommand('shapelab.renameRun', ids[0], '');
    assert.strictEqual(api.model.summary(ids[0]).name, path.basename(dir));
  });
});
