/**
 * Writes a chart the user saved from a webview: the image (PNG from a data URL, or SVG text) at
 * the path chosen in the save dialog, and the plotted points as CSV next to it. The dialog asked
 * before replacing the chosen file; the CSV beside it never replaces anything (a free name is
 * taken). No `vscode` import.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { SaveFormat } from '../../../webview/shared/messages';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

export function decodePng(dataUrl: string): Buffer {
  const prefix = 'data:image/png;base64,';
  if (!dataUrl.startsWith(prefix)) throw new Error('not a PNG data URL');
  const b = Buffer.from(dataUrl.slice(prefix.length), 'base64');
  if (b.length < 8 || !b.subarray(0, 8).equals(PNG_SIGNATURE)) throw new Error('the image is not a PNG');
  return b;
}

/** `file` itself when free, else `name-1.ext`, `name-2.ext`, ... */
export function freeName(file: string): string {
  if (!fs.existsSync(file)) return file;
  const ext = path.extname(file);
  const base = file.slice(0, file.length - ext.length);
  for (let i = 1; i < 10_000; i++) {
    const f = `${base}-${i}${ext}`;
    if (!fs.existsSync(f)) return f;
  }
  throw new Error(`no free file name next to ${file}`);
}

/** Default file name for a chart: "<run>-<chart>.<ext>", reduced to safe characters. */
export function defaultChartName(run: string, chart: string, format: SaveFormat): string {
  const safe = (s: string) => s.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._]+/, '').slice(0, 100) || 'chart';
  return `${safe(run)}-${safe(chart)}.${format}`;
}

export function writeChartFiles(target: string, format: SaveFormat, image: string | undefined, csv: string): string[] {
  const written: string[] = [];
  const want = `.${format}`;
  const file = path.extname(target).toLowerCase() === want ? target : target + want;
  if (format === 'csv') {
    fs.writeFileSync(file, csv);
    return [file];
  }
  if (image === undefined) throw new Error('no image to save');
  fs.writeFileSync(file, format === 'png' ? decodePng(image) : image);
  written.push(file);
  const csvFile = freeName(file.slice(0, file.length - want.length) + '.csv');
  fs.writeFileSync(csvFile, csv, { flag: 'wx' });
  written.push(csvFile);
  return written;
}
