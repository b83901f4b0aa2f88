// The monitor's entry point. Spawned waiting (src/sys/waiting-child.cts) by `hutch run -d` and `create` at the
// CLI's start, and by `start` and `hutch runtime create`: argv = await [passfds]. fd 3 carries go
// from the CLI (awaitGo: the container, its store, mode and log), then one JSON line
// (MonitorMessage) to it; with `passfds`, fds 4-6 are the container's stdio (OCI face).
// The C waiter (handover.ts) execs it again when the run it watched ended:
// argv = DATA RUN ID finish ATTEMPT EXITCODE FAILURE (FAILURE empty when none).
import { closeSync, writeSync } from 'node:fs';
import { runMonitor, serializeError, type MonitorMessage } from './monitor.js';
import type { GoWord } from './go-word.js';
import { dropPreheld, preholdUnion } from '../setup/index.js';
import { takeLog } from './here.js';
import { AWAIT_WORD } from '../../sys/waiting-child.cjs';
import { readLineSync } from '../../sys/ready-line.js';
import { trace } from '../../sys/trace.js';

/**
 * The CLI spawns this process before it knows the container (at its own start, for run -d and
 * create), so that this Node start overlaps its parse and set-up, and says go on fd 3 once the
 * record exists. An end of the pipe without go (the CLI failed, or was killed) ends this process
 * having touched nothing.
 */
function awaitGo(): GoWord | undefined {
  const said = readLineSync(3); // the CLI says nothing more until the report
  if (said === undefined) return undefined;
  let word: Partial<GoWord> = {};
  try {
    if (said.startsWith('go ')) word = JSON.parse(said.slice(3)) as Partial<GoWord>;
  } catch {
    // not JSON: said below
  }
  const fields = [word.data, word.run, word.id, word.log];
  if (fields.some((f) => typeof f !== 'string') || (word.mode !== 'create' && word.mode !== 'start')) {
    process.stderr.write(`monitor: not a go line on fd 3: ${JSON.stringify(said.slice(0, 200))}\n`);
    process.exit(1);
  }
  return word as GoWord;
}

const args = process.argv.slice(2);
const waiting = args[0] === AWAIT_WORD;
const notify = (m: MonitorMessage): void => {
  if (!waiting) return; // finish: the CLI heard at the start
  try {
    writeSync(3, JSON.stringify(m) + '\n');
    closeSync(3);
  } catch {
    // the CLI is gone: nobody to tell
  }
};
// No top-level await: the bundle is CommonJS (scripts/bundle.mjs).
trace('monitor main');
// The first launch's union holder starts before go (src/engine/setup/preheld-holder.ts), and is
// waited for first: awaitGo holds the event loop its launch steps need. No go: it is ended.
const holding =
  waiting && args[1] !== 'passfds' ? preholdUnion({ stderrLater: true, storeUnknown: true }) : Promise.resolve();
void holding.then(() => {
  const go = waiting ? awaitGo() : undefined;
  if (waiting && go === undefined) return dropPreheld().finally(() => process.exit(0));
  if (go) trace('monitor go');
  const [data, run, id, , attempt, exitCode, failure] = args;
  // A log that cannot be opened is reported as any failure of the launch: on fd 3, to the CLI.
  return new Promise<void>((resolve) => resolve(go && takeLog(go.log)))
    .then(() =>
      runMonitor({
        store: go ? { data: go.data, run: go.run } : { data: data!, run: run! },
        id: go ? go.id : id!,
        autoStart: go?.mode === 'start',
        passStdio: go && args[1] === 'passfds' ? [4, 5, 6] : undefined,
        notify,
        resumed: go
          ? undefined
          : { attempt: Number(attempt), exitCode: Number(exitCode), failure: failure === '' ? undefined : failure },
      }),
    )
    .catch((error: unknown) => {
      notify({ ok: false, error: serializeError(error) });
      process.stderr.write(`monitor: ${String(error instanceof Error ? error.stack : error)}\n`);
      process.exitCode = 1;
    })
    .finally(dropPreheld); // a monitor that failed before its launch (its record removed meanwhile) ends it
});
