/**
 * Moves a folder to the user's trash the freedesktop.org way ($XDG_DATA_HOME/Trash/files + an
 * info/*.trashinfo file), for hosts where VS Code's own trash is unavailable (a VS Code server,
 * code-server). Only a rename: a folder on another file system is refused, never deleted. No
 * `vscode` import. Spec: https://specifications.freedesktop.org/trash-spec/1.0/
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export function trashDir(): string {
  const data = process.env.XDG_DATA_HOME && path.isAbsolute(process.env.XDG_DATA_HOME) ? process.env.XDG_DATA_HOME : path.join(os.homedir(), '.local', 'share');
  return path.join(data, 'Trash');
}

/** Moves `target` into the trash; returns its new path. Throws (leaving `target` in place) when it cannot. */
export function moveToTrash(target: string, trash = trashDir()): string {
  const files = path.join(trash, 'files');
  const info = path.join(trash, 'info');
  fs.mkdirSync(files, { recursive: true, mode: 0o700 });
  fs.mkdirSync(info, { recursive: true, mode: 0o700 });
  const base = path.basename(target);
  for (let i = 0; i < 10_000; i++) {
    const name = i === 0 ? base : `${base}.${i}`;
    const infoFile = path.join(info, `${name}.trashinfo`);
    let fd: number;
    try {
      fd = fs.openSync(infoFile, 'wx'); // reserves the name (the spec's atomic step)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw e;
    }
    const date = new Date().toISOString().slice(0, 19);
    fs.writeSync(fd, `[Trash Info]\nPath=${encodeURI(path.resolve(target))}\nDeletionDate=${date}\n`);
    fs.closeSync(fd);
    const dest = path.join(files, name);
    try {
      fs.renameSync(target, dest);
    } catch (e) {
      fs.rmSync(infoFile, { force: true });
      if ((e as NodeJS.ErrnoException).code === 'EXDEV') throw new Error(`the trash (${trash}) is on another file system than ${target}; not deleted`);
      throw e;
    }
    return dest;
  }
  throw new Error('no free name in the trash');
}
