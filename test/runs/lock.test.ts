import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { acquireRunLock, isPidAlive, lockLiveness, procStartTime, readLock, RunLockedError, LOCK_FILE, type LockInfo } from '../../src/core/runs/lock';

const holderScript = path.join(__dirname, 'fixtures', 'lockHolder.ts');

function startHolder(runDir: string): { child: ChildProcess; line: Promise<string> } {
  const child = spawn(process.execPath, ['--require', 'tsx/cjs', holderScript, runDir], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const line = new Promise<string>((resolve) => {
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('\n')) resolve(out.trim());
    });
    child.on('exit', () => resolve(out.trim()));
  });
  return { child, line };
}

function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  const pid = Number(r.stdout.toString());
  assert.equal(isPidAlive(pid), false);
  return pid;
}

function writeLock(runDir: string, info: Partial<LockInfo>): void {
  fs.writeFileSync(path.join(runDir, LOCK_FILE), JSON.stringify({ pid: 1, host: os.hostname(), startedAt: 0, token: 'old', ...info }));
}

describe('runs/lock', function () {
  this.timeout(60000);
  const dirs: string[] = [];
  const newRun = () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'shapelab-lock-'));
    dirs.push(d);
    return d;
  };
  const children: ChildProcess[] = [];
  after(() => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true }));
  });

  it('acquire writes pid/host/start; release removes it; a second acquire in the same process is refused', () => {
    const run = newRun();
    const lock = acquireRunLock(run);
    const info = readLock(run)!;
    assert.equal(info.pid, process.pid);
    assert.equal(info.host, os.hostname());
    assert.ok(Math.abs(info.startedAt - Date.now()) < 5000);
    assert.equal(lock.tookOverFrom, null);
    assert.throws(() => acquireRunLock(run), (e: Error) => e instanceof RunLockedError && e.message.includes(`in use by pid ${process.pid}`));
    lock.release();
    lock.release();
    assert.equal(readLock(run), null);
    acquireRunLock(run).release();
    assert.deepEqual(fs.readdirSync(run), [], 'no temp files left behind');
  });

  it('a stale lock (dead pid) is taken over and reported', () => {
    const run = newRun();
    const pid = deadPid();
    writeLock(run, { pid });
    const lock = acquireRunLock(run);
    assert.equal(lock.tookOverFrom?.pid, pid);
    assert.equal(readLock(run)!.pid, process.pid);
    lock.release();
  });

  it('a reused pid (same pid, other process start time) is stale', function () {
    if (procStartTime(process.pid) === null) this.skip();
    const run = newRun();
    writeLock(run, { pid: process.pid, procStart: '1' });
    assert.equal(lockLiveness(readLock(run)!), false);
    const lock = acquireRunLock(run);
    assert.equal(lock.tookOverFrom?.procStart, '1');
    lock.release();
  });

  it('a lock from another host is honoured unless forced; a garbled lock is stale', () => {
    const run = newRun();
    writeLock(run, { host: 'elsewhere', pid: 4242 });
    assert.throws(() => acquireRunLock(run), /locked by pid 4242 on elsewhere .*cannot be checked/);
    acquireRunLock(run, { force: true }).release();
    fs.writeFileSync(path.join(run, LOCK_FILE), '{"pid":');
    const l = acquireRunLock(run);
    assert.ok(l.tookOverFrom);
    l.release();
  });

  it('two processes cannot hold the same lock; kill -9 of the holder makes it stale', async () => {
    const run = newRun();
    const a = startHolder(run);
    children.push(a.child);
    assert.equal(await a.line, 'locked fresh');
    const b = startHolder(run);
    children.push(b.child);
    assert.match(await b.line, new RegExp(`^refused run .* is in use by pid ${a.child.pid} on `));
    assert.throws(() => acquireRunLock(run), RunLockedError);
    a.child.kill('SIGKILL');
    await new Promise((r) => a.child.on('exit', r));
    const c = startHolder(run);
    children.push(c.child);
    assert.equal(await c.line, 'locked takeover');
    c.child.kill('SIGKILL');
  });

  it('several processes racing for one stale lock: exactly one wins', async () => {
    for (let round = 0; round < 3; round++) {
      const run = newRun();
      writeLock(run, { pid: deadPid() });
      const racers = Array.from({ length: 4 }, () => startHolder(run));
      children.push(...racers.map((r) => r.child));
      const lines = await Promise.all(racers.map((r) => r.line));
      assert.equal(lines.filter((l) => l.startsWith('locked')).length, 1, lines.join(' | '));
      const winner = racers[lines.findIndex((l) => l.startsWith('locked'))].child.pid;
      assert.equal(readLock(run)!.pid, winner);
      racers.forEach((r) => r.child.kill('SIGKILL'));
      assert.ok(!fs.existsSync(path.join(run, `${LOCK_FILE}.takeover`)));
    }
  });
});
