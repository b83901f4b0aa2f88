import { closeSync } from 'node:fs';
import { ReadStream } from 'node:tty';
import { openPeer, readPending, setNonBlocking, setWindowSize, type WindowSize } from '../../sys/pty.js';
import { typeInto } from './terminal-input.js';

/** Where a container's terminal reads and writes, as the caller sees it. */
export interface TerminalIo {
  /** Keystrokes for the container (`-i`), never waited on (terminal-input.ts); its end sends nothing. */
  input?: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
  /** The initial window size (else spec.process.consoleSize, else 24x80). */
  size?: WindowSize;
  /** Subscribes to window size changes (SIGWINCH on the caller's terminal); returns the unsubscribe. */
  watchSize?: (apply: (size: WindowSize) => void) => () => void;
}

/**
 * Joins the pty master of a container to the caller's streams; returns the detach, to call once
 * the container's process is reaped, which passes on everything it wrote, then closes the master.
 *
 * The end of the output is the process's end, never the master's: a slave stays open here until
 * the detach (as conmon keeps one), so the master neither polls POLLHUP nor reads EIO meanwhile.
 * Without it libuv ends the stream at the first short read after POLLHUP (a pty read gives at most
 * ~4 KiB, its line discipline's buffer), and up to ~8 KiB the pty still held was lost; and a child
 * left holding the slave (an exec'd shell's `sleep &`) would keep hutch waiting for it.
 */
export function attachTerminal(
  master: number,
  io: TerminalIo,
  consoleSize?: { height: number; width: number },
  slave: number = openPeer(master), // a slave the caller holds already passes to the detach
): () => Promise<void> {
  const size =
    io.size ?? (consoleSize ? { rows: consoleSize.height, cols: consoleSize.width } : { rows: 24, cols: 80 });
  setWindowSize(master, size);
  setNonBlocking(master); // for the input's writes; the reader takes EAGAIN as "nothing yet"
  const unwatch = io.watchSize?.((next) => {
    try {
      setWindowSize(master, next);
    } catch {
      // the container may be gone already; nothing to resize
    }
  });
  const reader = new ReadStream(master);
  reader.on('error', () => undefined); // none while the slave is held; the detach ends the output
  let hungUp = false; // the caller's output failed (below)
  let detached: Promise<void> | undefined;
  // The container's output waits while the caller's does not take it (a full pipe, a slow
  // reader): the reader pauses, the pty fills and the container's write blocks, as it would
  // writing there itself; else hutch would buffer all of it in memory.
  const pass = (chunk: Buffer): void => {
    if (hungUp || io.output.write(chunk) || reader.isPaused()) return;
    reader.pause();
    io.output.once('drain', () => reader.resume());
  };
  reader.on('data', pass);
  const stopInput = io.input && typeInto(master, io.input);
  // The caller's output gone (EPIPE: `| head`) is the terminal closed: hutch hangs the pty up
  // (the master and its slave closed): the container's writes fail (EIO) as on a closed
  // terminal, and the run ends with its status.
  io.output.on('error', () => {
    if (hungUp || detached !== undefined) return;
    hungUp = true;
    stopInput?.();
    unwatch?.();
    reader.destroy(); // closes the master
    closeSync(slave);
  });
  return () =>
    (detached ??= (async () => {
      if (hungUp) return;
      stopInput?.(); // what the container did not take is dropped
      unwatch?.();
      // In one turn, so that libuv reads nothing in between: what the stream holds, then the pty.
      while (reader.readableLength > 0 && reader.read() !== null); // read() emits 'data'
      readPending(master, pass);
      reader.destroy(); // closes the master
      closeSync(slave);
    })());
}
