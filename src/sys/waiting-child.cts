/**
 * A Node process started before it knows its work, so that its Node start and bundle load overlap
 * what its parent does meanwhile; a word on fd 3 (`go JSON`) then says what to do. hutch's
 * monitor is one (engine/monitor/main.ts, awaitGo): `run -d` and `create` start it as the CLI's
 * first act, before the CLI's own bundle (src/cli/early-monitor.cts); `start` and `hutch runtime
 * create` once they know the container (engine/container/lifecycle.ts). One spawn, one protocol.
 *
 * CommonJS (.cts) and standalone on purpose: the bundle loader runs it before anything of hutch is
 * loaded. What the CLI's bundle must share with it (the child held since the start) lives on
 * globalThis: the bundle carries its own copy of this module.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Duplex, Readable } from 'node:stream';

/** The argv word of a waiting child, after its command; with `passfds`, its fds 4-6 are the caller's `passStdio`. */
export const AWAIT_WORD = 'await';

/** How much of what a child wrote before `go` (Node's own complaints) its parent keeps to quote. */
const STDERR_KEPT = 4096;

export interface WaitingChild {
  readonly child: ChildProcess;
  /** fd 3: a socket pair, `go` one way, the child's report the other. */
  readonly channel: Duplex;
  /** Whether go was said (then its end is its work's, never the parent's). */
  readonly went: boolean;
  /** Says go with `word` (one JSON line); from then on the child belongs to its work. */
  go(word: object): void;
  /** Ends it if go was not said: it has touched nothing. */
  cancel(): void;
  /** The end of what it wrote to stderr before go (it puts its own log on fds 1 and 2 then). */
  stderr(): string;
}

/**
 * Spawns `node COMMAND await [passfds]` in a session of its own (it outlives the CLI and its
 * terminal). Until go, nothing of it holds the CLI's event loop: a CLI that ends without go ends
 * (its fd 3 closes, the monitor reads the end and exits) and never waits for it.
 */
export function spawnWaitingChild(command: string[], passStdio?: readonly number[]): WaitingChild {
  const args = [...command, AWAIT_WORD, ...(passStdio ? ['passfds'] : [])];
  // stdout /dev/null and stderr a pipe until go: its log is not known yet; after go the child
  // puts its log on both, which ends the pipe.
  const child = spawn(process.execPath, args, {
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe', 'pipe', ...(passStdio ?? [])],
  });
  child.on('error', () => undefined); // no pid: the reader of its report says it died
  const channel = child.stdio[3] as Duplex;
  const err = child.stderr as Readable;
  channel.on('error', () => undefined); // a child that died early: the reader of its report says so
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
      // The parent now waits for the report: the child holds its loop until then.
      (channel as Duplex & { ref?: () => void }).ref?.();
      child.ref();
      channel.write(`go ${JSON.stringify(word)}\n`);
    },
    cancel() {
      if (went) return; // it works, or reported why not: its end is its work's
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
type Holder = { [HELD]?: WaitingChild };

/**
 * Holds the monitor the CLI started at its start (src/cli/early-monitor.cts), for the one command
 * that takes it (run -d, create: engine/container/create.ts). One not taken when the CLI exits (a
 * wrong guess of the argv scan, --help, a usage error, a failure before the record) is killed
 * then; a CLI killed outright closes its fd 3, and the monitor ends on that.
 */
export function holdEarlyMonitor(monitor: WaitingChild): void {
  (globalThis as Holder)[HELD] = monitor;
  process.once('exit', () => monitor.cancel());
}

/** The monitor started at the CLI's start, at most once; undefined when none was. */
export function takeEarlyMonitor(): WaitingChild | undefined {
  const holder = globalThis as Holder;
  const monitor = holder[HELD];
  delete holder[HELD];
  return monitor;
}
