import { appendFileSync } from 'node:fs';

/**
 * HUTCH_TRACE=FILE: the processes of a run (the CLI, the monitor, the union daemon) append
 * "EPOCH_MS PID STEP" lines to FILE at the steps of their start, the fault points included
 * (fault.ts); a process's first line is its start (performance.timeOrigin), and the bundle loader
 * adds its own (docs/startup.md, "Critical paths"). Unset (every real use), trace does nothing.
 */
const file = process.env.HUTCH_TRACE;
let started = false;

export function trace(step: string): void {
  if (file === undefined || file === '') return;
  const line = (ms: number, what: string): string => `${ms.toFixed(1)} ${process.pid} ${what}\n`;
  const first = started ? '' : line(performance.timeOrigin, 'start');
  started = true;
  appendFileSync(file, first + line(performance.timeOrigin + performance.now(), step));
}
