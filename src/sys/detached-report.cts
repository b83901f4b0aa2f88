/**
 * The report pipe of a `run -d` that native/hutch-run-front checked and forked (docs/startup.md,
 * "run -d: the CLI is its own monitor"): the front waits in the caller's place while this process,
 * in a session of its own, records the container and then becomes its monitor, with no second
 * Node start. Its fd is named by HUTCH_DETACHED_REPORT_FD; this process writes `go` on it once it is
 * the monitor (the front then no longer passes it the caller's signals) and `0` once the container
 * runs and its id is printed (the front exits 0). An end without `0` is a failure: the front
 * takes this process's exit status.
 *
 * CommonJS (.cts) and standalone on purpose: the bundle loader takes the fd before anything of hutch
 * is loaded (nothing this process spawns may inherit it); the bundle, which carries its own copy of
 * this module, finds it on globalThis.
 */
import { closeSync, fstatSync, openSync } from 'node:fs';

const REPORT_ENV = 'HUTCH_DETACHED_REPORT_FD';
const HELD = Symbol.for('hutch.detachedReport');
type Holder = { [HELD]?: number };

/**
 * Takes the report fd from the environment (the variable goes: no process hutch starts sees it),
 * reopened close-on-exec: the front passed it without, and Node's spawns would hand it on.
 * A value that is not an fd of a pipe is dropped: the run is then an ordinary CLI's.
 */
export function holdDetachedReport(): boolean {
  const value = process.env[REPORT_ENV];
  if (value === undefined) return false;
  delete process.env[REPORT_ENV];
  if (!/^\d+$/.test(value) || Number(value) < 3) return false;
  const fd = Number(value);
  try {
    if (!fstatSync(fd).isFIFO()) return false; // not the front's pipe: left as it is
    (globalThis as Holder)[HELD] = openSync(`/proc/self/fd/${fd}`, 'w'); // O_CLOEXEC, as Node opens all
    closeSync(fd);
  } catch {
    return false;
  }
  return true;
}

/** The report fd, at most once (the one `run -d` that this process is); undefined when none is held. */
export function takeDetachedReport(): number | undefined {
  const holder = globalThis as Holder;
  const fd = holder[HELD];
  delete holder[HELD];
  return fd;
}

/** Whether this process holds a report fd (the run's union holder is then its own to start). */
export function holdsDetachedReport(): boolean {
  return (globalThis as Holder)[HELD] !== undefined;
}
