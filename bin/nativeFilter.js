// Runs the CLI in a child process and passes its stderr through, minus the lines onnxruntime and
// Dawn print from native code (see shapelab.js). Plain CommonJS: it runs before the bundle loads.
'use strict';
const { spawn } = require('node:child_process');

/** Lines written by native code, never by ShapeLab itself. */
const NATIVE = [
  /^Warning: /, // Dawn's logging (vkCreateInstance, adapter limits, "Couldn't load Vulkan")
  /^\s+at .*\.(cpp|cc|h):\d+\)\s*$/, // the source location Dawn prints under a warning
  /\[[VIWEF]:onnxruntime:/, // onnxruntime's default logger
  /\/onnxruntime_src\//,
  /\/dawn-src\//,
  /^(\x1b\[[0-9;]*m)+\s*$/, // the colour reset onnxruntime prints after a red error line
];

function isNative(line) {
  return NATIVE.some((re) => re.test(line));
}

/** A stream filter: whole lines are checked; a trailing partial line (a progress bar) goes out after a short pause. */
function makeFilter(write) {
  let buf = '';
  let lastDropped = false;
  let timer;
  const emit = (seg) => {
    const body = seg.replace(/\r?\n$/, '');
    if (isNative(body)) {
      lastDropped = true;
      return;
    }
    // Dawn ends each warning with an empty line: drop it with the warning.
    if (lastDropped && body.trim() === '') {
      lastDropped = false;
      return;
    }
    lastDropped = false;
    write(seg);
  };
  const flushPartial = () => {
    timer = undefined;
    if (buf && !isNative(buf)) {
      // Progress bars rewrite one line with '\r': send what is there.
      write(buf);
      buf = '';
    }
  };
  return {
    push(chunk) {
      buf += chunk;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        emit(buf.slice(0, i + 1));
        buf = buf.slice(i + 1);
      }
      if (timer) clearTimeout(timer);
      if (buf) timer = setTimeout(flushPartial, 30);
    },
    end() {
      if (timer) clearTimeout(timer);
      if (buf) emit(buf);
      buf = '';
    },
  };
}

function runFiltered(launcher, args) {
  const env = { ...process.env, SHAPELAB_NATIVE_FILTER: 'child' };
  // The child's stderr is a pipe: tell it whether the user's is a terminal (progress bars).
  if (process.stderr.isTTY) env.SHAPELAB_STDERR_TTY = '1';
  // Own process group: a terminal's Ctrl-C reaches only this process, which forwards it once (the
  // trainer reads a second SIGINT as "abort without a checkpoint").
  const child = spawn(process.execPath, [...process.execArgv, launcher, ...args], { env, stdio: ['inherit', 'inherit', 'pipe'], detached: true });
  const filter = makeFilter((s) => process.stderr.write(s));
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d) => filter.push(d));
  const forward = (sig) => () => {
    if (child.exitCode === null && child.signalCode === null) child.kill(sig);
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, forward(sig));
  child.on('error', (e) => {
    process.stderr.write(`shapelab: cannot start the CLI process: ${e.message}\n`);
    process.exit(1);
  });
  child.on('close', (code, signal) => {
    filter.end();
    process.exitCode = code ?? (signal ? 128 + (require('node:os').constants.signals[signal] ?? 1) : 1);
  });
}

module.exports = { runFiltered, isNative, makeFilter };
