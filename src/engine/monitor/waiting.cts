/**
 * A monitor process started before its container is known: Node starts and loads the monitor's
 * bundle while the CLI parses, resolves the image and writes the record; then `go` on fd 3 names
 * the container (main.ts, awaitGo). `run -d` and `create` start one as the CLI's first act, before
 * the CLI's own bundle (src/cli/early-monitor.cts); `start` and `hutch runtime create` once they
 * know the container (container/lifecycle.ts). One spawn, one protocol for all of them.
 *
 * CommonJS (.cts) and standalone on purpose: the bundle loader runs it before anything of hutch is
 * loaded. What the CLI's bundle must share with it (the monitor held since the start) lives on
 * globalThis: the bundle carries its own copy of this module.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Duplex, Readable } from 'node:stream';

/** What `go` tells the monitor: its container, its store, its mode and its log. */
export interface GoWord {
  data: string;
  run: string;
  id: string;
  mode: 'create' | 'start';
  /** The container's monitor log: the monitor makes it its stdout and stderr (and the C waiter's). */
  log: string;
}

/** The argv word of a waiting monitor (main.ts); with `passfds`, fds 4-6 are the container's stdio. */
export const AWAIT_WORD = 'await';

/** How much of what a monitor wrote before `go` (Node's own complaints) the CLI keeps to quote. */
const STDERR_KEPT = 4096;

export interface WaitingMonitor {
  readonly child: ChildProcess;
  /** fd 3: a socket pair, `go` one way, the monitor's report the other. */
  readonly channel: Duplex;
  /** Whether go was said (then the monitor's end is the container's, never the CLI's). */
  readonly went: boolean;
  /** Says go; from then on the monitor belongs to the container. */
  go(word: GoWord): void;
  /** Ends it if go was not said: it has touched nothing. */
  cancel(): void;
  /** The end of what it wrote to stderr before go (it writes to its log after). */
  stderr(): string;
}

/**
 * Spawns `node COMMAND await [passfds]` in a session of its own (it outlives the CLI and its
 * terminal). Until go, nothing of it holds the CLI's event loop: a CLI that ends without go ends
 * (its fd 3 closes, the monitor reads the end and exits) and never waits for it.
 */
export function spawnWaitingMonitor(command: string[], passStdio?: readonly number[]): WaitingMonitor {
  const args = [...command, AWAIT_WORD, ...(passStdio ? ['passfds'] : [])];
  // stdout /dev/null and stderr a pipe until go: the log is not known yet; after go the monitor
  // puts its log on both, which ends the pipe.
  const child = spawn(process.execPath, args, {
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe', 'pipe', ...(passStdio ?? [])],
  });
  child.on('error', () => undefined); // no pid: the reader of its report says it died
  const channel = child.stdio[3] as Duplex;
  const err = child.stderr as Readable;
  channel.on('error', () => undefined); // a monitor that died early: the reader of its report says so
  let said = '';
  err.on('data', (chunk: Buffer) => (said = (said + chunk.toString()).slice(-STDERR_KEPT)));
  err.on('error', () => undefined);
  unref(child, channel, err);
  let went = false;
  return {
    child,
    channel,
    get went() {
      return went;
    },
    go(word) {
      went = true;
      // The CLI now waits for the report: the monitor holds its loop until then.
      (channel as Duplex & { ref?: () => void }).ref?.();
      child.ref();
      channel.write(`go ${JSON.stringify(word)}\n`);
    },
    cancel() {
      if (went) return; // it runs, or reported why not: its end is the container's
      child.kill('SIGKILL');
      channel.destroy();
      err.destroy();
    },
    stderr: () => said,
  };
}

function unref(child: ChildProcess, ...streams: (Duplex | Readable)[]): void {
  child.unref();
  for (const s of streams) (s as { unref?: () => void }).unref?.();
}

const HELD = Symbol.for('hutch.earlyMonitor');
type Holder = { [HELD]?: WaitingMonitor };

/**
 * Holds the monitor the CLI started at its start, for the one command that takes it (run -d,
 * create). One not taken when the CLI exits (a wrong guess of the argv scan, --help, a usage
 * error, a failure before the record) is killed then; a CLI killed outright closes its fd 3.
 */
export function holdEarlyMonitor(monitor: WaitingMonitor): void {
  (globalThis as Holder)[HELD] = monitor;
  process.once('exit', () => monitor.cancel());
}

/** The monitor started at the CLI's start, at most once; undefined when none was. */
export function takeEarlyMonitor(): WaitingMonitor | undefined {
  const holder = globalThis as Holder;
  const monitor = holder[HELD];
  delete holder[HELD];
  return monitor;
}
