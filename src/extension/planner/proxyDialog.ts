import * as vscode from 'vscode';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PROXY_DEFAULTS, defaultProxyWidth, proxyCost, proxyRunConfig, proxyShape, proxyTransfer, proxyWidthChoices, type ProxyData } from '../../core/plan/proxy';
import { proxyConfirmText, proxySourceFromPlan } from '../logic/proxyPlan';
import { fmt } from '../../../webview/shared/chartData';
import type { TrainingManager } from '../training/trainingManager';
import * as config from '../config';

/**
 * Train From Plan (palette): quick-input steps for the proxy's width, steps and data, then a modal
 * with the transferred hyperparameters per group; the proxy starts only when the user confirms.
 * The planner's "Train this" does the same in its own panel.
 */
export async function trainFromPlanFile(ctx: vscode.ExtensionContext, training: TrainingManager, planFile: string): Promise<string | undefined> {
  let src;
  try {
    const st = fs.statSync(planFile);
    if (!st.isFile() || st.size > 4 * 1024 * 1024) throw new Error('not a plan file (too large or not a file)');
    src = proxySourceFromPlan(JSON.parse(fs.readFileSync(planFile, 'utf8')));
  } catch (e) {
    void vscode.window.showErrorMessage(`ShapeLab: cannot train from ${path.basename(planFile)}: ${(e as Error).message.split('\n')[0]}`);
    return undefined;
  }
  const { planned } = src;
  const title = `ShapeLab: proxy of ${planned.dModel} x ${planned.nLayers}`;
  const def = defaultProxyWidth(planned);
  const widthPick = await vscode.window.showQuickPick(
    proxyWidthChoices(planned).map((w) => {
      const p = proxyShape(planned, { width: w });
      return { label: String(w), description: `${w === def ? 'default \u00b7 ' : ''}${planned.nLayers} layers, ${fmt(proxyCost(p, 256).params)} params`, width: w, picked: w === def };
    }),
    { title: `${title}: width (the planned depth ${planned.nLayers} is kept)`, placeHolder: `default ${def}` },
  );
  if (!widthPick) return undefined;
  const stepsText = await vscode.window.showInputBox({
    title: `${title}: steps`,
    value: String(config.proxySteps()),
    validateInput: (v) => (/^\d+$/.test(v.trim()) && Number(v) >= 1 && Number(v) <= 1e9 ? undefined : 'a whole number of steps from 1 to 1e9'),
  });
  if (stepsText === undefined) return undefined;
  const steps = Number(stepsText.trim());
  const dataPick = await vscode.window.showQuickPick(
    [
      { label: 'Brown corpus', description: 'embedded, byte tokenizer', id: 'brown' as const },
      { label: 'A text file\u2026', id: 'file' as const },
      { label: 'A folder of text files\u2026', id: 'folder' as const },
    ],
    { title: `${title}: data` },
  );
  if (!dataPick) return undefined;
  let data: ProxyData = { source: 'brown' };
  if (dataPick.id !== 'brown') {
    const uris = await vscode.window.showOpenDialog({ canSelectFiles: dataPick.id === 'file', canSelectFolders: dataPick.id === 'folder', canSelectMany: false, openLabel: 'Train on this' });
    if (!uris?.[0]) return undefined;
    data = { source: dataPick.id, path: uris[0].fsPath };
  }
  const proxy = proxyShape(planned, { width: widthPick.width });
  const t = proxyTransfer(planned, proxy, src.base, src.parameterization);
  const dataLabel = data.source === 'brown' ? 'the Brown corpus' : path.basename(data.path);
  const ok = await vscode.window.showInformationMessage(
    `Train a ${src.parameterization} proxy of ${planned.dModel} x ${planned.nLayers}?`,
    { modal: true, detail: proxyConfirmText(planned, proxy, t, steps, dataLabel, proxyCost(proxy, 256, PROXY_DEFAULTS.batchSize).params) },
    'Start',
  );
  if (ok !== 'Start') return undefined;
  const cfg = proxyRunConfig(proxy, { steps, data, parameterization: src.parameterization, base: src.base, label: src.label });
  const dir = path.join(ctx.globalStorageUri.fsPath, 'proxies');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${src.label}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(file, JSON.stringify(cfg, null, 2) + '\n');
  return training.start({ label: `proxy of ${planned.dModel} x ${planned.nLayers} (width ${proxy.dModel})`, configFile: file, steps });
}
