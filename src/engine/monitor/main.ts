// The monitor's entry point, spawned detached by `hutch run -d`, `create`, `start` and
// `hutch runtime create`: argv = DATA RUN ID create|start [passfds]. fd 3 carries one JSON line
// (MonitorMessage) to the CLI; with `passfds`, fds 4-6 are the container's stdio (OCI face).
import { closeSync, writeSync } from 'node:fs';
import { runMonitor, serializeError, type MonitorMessage } from './monitor.js';

const [data, run, id, mode, pass] = process.argv.slice(2);
const notify = (m: MonitorMessage): void => {
  try {
    writeSync(3, JSON.stringify(m) + '\n');
    closeSync(3);
  } catch {
    // the CLI is gone: nobody to tell
  }
};
// No top-level await: the bundle is CommonJS (scripts/bundle.mjs).
runMonitor({
  store: { data: data!, run: run! },
  id: id!,
  autoStart: mode === 'start',
  passStdio: pass === 'passfds' ? [4, 5, 6] : undefined,
  notify,
}).catch((error: unknown) => {
  notify({ ok: false, error: serializeError(error) });
  process.stderr.write(`monitor: ${String(error instanceof Error ? error.stack : error)}\n`);
  process.exitCode = 1;
});
