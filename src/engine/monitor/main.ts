// The monitor's entry point, spawned detached by `hutch run -d`, `create`, `start` and
// `hutch runtime create`: argv = DATA RUN ID create|start [passfds]. fd 3 carries go from the CLI
// (awaitGo), then one JSON line (MonitorMessage) to it; with `passfds`, fds 4-6 are the container's stdio (OCI face).
// The C waiter (handover.ts) execs it again when the run it watched ended:
// argv = DATA RUN ID finish ATTEMPT EXITCODE FAILURE (FAILURE empty when none).
import { closeSync, readSync, writeSync } from 'node:fs';
import { runMonitor, serializeError, type MonitorMessage } from './monitor.js';
import { dropPreheld, preholdUnion } from '../setup/index.js';
import { trace } from '../../sys/trace.js';

/**
 * The CLI spawns this process before the container's record exists, so that this Node start
 * overlaps its set-up (container/lifecycle.ts), and says go on fd 3 once it does. An end of the
 * pipe without go (the CLI failed, or was killed) ends this process having touched nothing.
 */
function awaitGo(): boolean {
  const byte = Buffer.alloc(1);
  let said = '';
  for (;;) {
    let n: number;
    try {
      n = readSync(3, byte, 0, 1, null);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') return false;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5); // a non-blocking fd: poll
      continue;
    }
    if (n === 0) return false;
    said += byte.toString('latin1');
    if (said.endsWith('\n')) return said === 'go\n';
  }
}

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
trace('monitor main');
// The first launch's union holder starts before go (src/engine/setup/preheld-holder.ts), and is
// waited for first: awaitGo holds the event loop its launch steps need. No go: it is ended.
const holding = mode === 'finish' || rest[0] === 'passfds' ? Promise.resolve() : preholdUnion();
void holding.then(() => {
  if (mode !== 'finish' && !awaitGo()) return dropPreheld().finally(() => process.exit(0));
  runMonitor({
    store: { data: data!, run: run! },
    id: id!,
    autoStart: mode === 'start',
    passStdio: rest[0] === 'passfds' ? [4, 5, 6] : undefined,
    notify,
    resumed,
  })
    .catch((error: unknown) => {
      notify({ ok: false, error: serializeError(error) });
      process.stderr.write(`monitor: ${String(error instanceof Error ? error.stack : error)}\n`);
      process.exitCode = 1;
    })
    .finally(dropPreheld); // a monitor that failed before its launch (its record removed meanwhile) ends it
});
