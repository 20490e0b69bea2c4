/**
 * Monitor bundle: one script for three views, chosen by #app[data-view]: the sidebar monitor
 * ("monitor"), the same charts at full size in an editor tab ("monitor-tab"), and the runs
 * comparison ("compare").
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-badge/index.js';
import { mountMonitor } from './monitor';
import { mountCompare } from './compare';
import type { MonitorToHost } from '../shared/messages';

declare function acquireVsCodeApi(): { postMessage(m: MonitorToHost): void; getState(): unknown; setState(s: unknown): void };
const api = acquireVsCodeApi();
const app = document.getElementById('app')!;
if (app.dataset.view === 'compare') mountCompare(app, api);
else mountMonitor(app, api, app.dataset.view === 'monitor-tab');
