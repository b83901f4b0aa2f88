// The monitor's entry point, spawned detached by `hutch run -d`, `create`, `start` and
// `hutch runtime create`: argv = DATA RUN ID create|start [passfds]. fd 3 carries one JSON line
// (MonitorMessage) to the CLI; with `passfds`, fds 4-6 are the container's stdio (OCI face).
// The C waiter (handover.ts) execs it again when the run it watched ended:
// argv = DATA RUN ID finish ATTEMPT EXITCODE FAILURE (FAILURE empty when none).
import { closeSync, writeSync } from 'node:fs';
import { runMonitor, serializeError, type MonitorMessage } from './monitor.js';

const [data, run, id, mode, ...rest] = process.argv.slice(2);
const notify = (m: MonitorMessage): void => {
  if (mode === 'finish') return; // the CLI heard at the start
  try {
    writeSync(3, JSON.stringify(m) + '\n');
    closeSync(3);
  } catch {
    // the CLI is gone: nobody to tell
  }
};
const resumed =
  mode === 'finish'
    ? { attempt: Number(rest[0]), exitCode: Number(rest[1]), failure: rest[2] === '' ? undefined : rest[2] }
    : undefined;
// No top-level await: the bundle is CommonJS (scripts/bundle.mjs).
runMonitor({
  store: { data: data!, run: run! },
  id: id!,
  autoStart: mode === 'start',
  passStdio: rest[0] === 'passfds' ? [4, 5, 6] : undefined,
  notify,
  resumed,
}).catch((error: unknown) => {
  notify({ ok: false, error: serializeError(error) });
  process.stderr.write(`monitor: ${String(error instanceof Error ? error.stack : error)}\n`);
  process.exitCode = 1;
});
