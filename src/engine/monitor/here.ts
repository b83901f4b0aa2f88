import { closeSync, openSync, writeSync } from 'node:fs';
import { describeCause, RuntimeError } from '../../errors.js';
import { dupAbove, dupOnto } from '../../sys/fdops.js';
import { faultPoint } from '../../sys/fault.js';
import { pauseSync } from '../../sys/pause.js';
import { trace } from '../../sys/trace.js';
import { dropPreheld, preheldStderrTo } from '../setup/index.js';
import { updateState, type ContainerStore } from '../store/index.js';
import { errorFromReport } from './control.js';
import { runMonitor, serializeError, type MonitorMessage } from './monitor.js';

/** The container's log as fds 1 and 2, which the C waiter inherits (and the pipe to the CLI ends). */
export function takeLog(log: string): void {
  preheldStderrTo(log); // the holder started before go writes there too, once taken
  const fd = openSync(log, 'a', 0o600);
  dupOnto(fd, 1);
  dupOnto(fd, 2);
  closeSync(fd);
}

/**
 * A `run -d` forked by the run front (src/sys/detached-report.cts) becomes the monitor of the
 * container it recorded: what main.ts does after go, in this process, with no second Node start on
 * the way to the container. Once the container runs, it prints the launch's warnings and the id
 * on the caller's stdout and stderr, says `0` on `report` and closes all three (the front exits,
 * and no fd of the caller reaches the C waiter it execs next). Returns only by throwing, with the
 * caller's stdout and stderr back on fds 1 and 2, when the container could not be started: the
 * CLI then removes it and says why, as for a monitor's report.
 */
export async function becomeMonitor(store: ContainerStore, id: string, log: string, report: number): Promise<never> {
  const caller = { out: dupAbove(1), err: dupAbove(2) };
  say(report, 'go\n'); // the front stops passing signals on: a Ctrl-C now leaves the container to this monitor
  trace('monitor go');
  faultPoint('monitor-spawned');
  let said: MonitorMessage | undefined;
  let failed = false;
  const notify = (m: MonitorMessage): void => {
    if (said !== undefined) return;
    said = m;
    if (!m.ok) return;
    for (const line of m.warnings ?? []) say(caller.err, line + '\n');
    say(caller.out, id + '\n');
    say(report, '0\n');
    for (const fd of [caller.out, caller.err, report]) closeSync(fd);
  };
  try {
    takeLog(log);
    await runMonitor({ store, id, autoStart: true, notify });
  } catch (error) {
    failed = true;
    notify({ ok: false, error: serializeError(error) });
    process.stderr.write(`monitor: ${String(error instanceof Error ? error.stack : error)}\n`);
  } finally {
    await dropPreheld();
  }
  const outcome = said as MonitorMessage | undefined;
  // It ran here to its end (a run the C waiter did not take: OCI hooks).
  if (outcome?.ok) process.exit(failed ? 1 : 0);
  dupOnto(caller.out, 1);
  dupOnto(caller.err, 2);
  for (const fd of [caller.out, caller.err]) closeSync(fd);
  // No monitor runs for it now: the CLI's removal must not wait for (or kill) this process.
  await updateState(store, id, (s) => ({ ...s, monitorPid: undefined, monitorStart: undefined })).catch(
    () => undefined,
  );
  if (outcome === undefined)
    throw new RuntimeError('MONITOR_DIED', `the monitor of container ${id.slice(0, 12)} ended without a report`, {
      hint: `see ${log}`,
    });
  throw errorFromReport(outcome.error);
}

/** A whole write to a pipe or the caller's terminal; a reader gone is not this run's failure. */
function say(fd: number, text: string): void {
  const bytes = Buffer.from(text);
  for (let at = 0, waited = 0; at < bytes.length;) {
    try {
      at += writeSync(fd, bytes, at);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // A caller's pipe left non-blocking and full: its reader is slow, not gone (at most 10 s).
      if (code === 'EAGAIN' && waited++ < 10_000) {
        pauseSync(1);
        continue;
      }
      if (code !== 'EPIPE') process.stderr.write(`monitor: ${describeCause(error)}\n`);
      return;
    }
  }
}
