import { writeSync } from 'node:fs';
import { ReadStream } from 'node:tty';
import { setWindowSize, type WindowSize } from '../../sys/pty.js';

/** Where a container's terminal reads and writes, as the caller sees it. */
export interface TerminalIo {
  /** Keystrokes for the container (`-i`); absent, nothing is typed. */
  input?: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
  /** The initial window size (else spec.process.consoleSize, else 24x80). */
  size?: WindowSize;
  /** Subscribes to window size changes (SIGWINCH on the caller's terminal); returns the unsubscribe. */
  watchSize?: (apply: (size: WindowSize) => void) => () => void;
}

/**
 * Joins the pty master of a container to the caller's streams; returns the detach, which waits
 * until everything the container wrote has been passed on, then closes the master.
 */
export function attachTerminal(
  master: number,
  io: TerminalIo,
  consoleSize?: { height: number; width: number },
): () => Promise<void> {
  const size =
    io.size ?? (consoleSize ? { rows: consoleSize.height, cols: consoleSize.width } : { rows: 24, cols: 80 });
  setWindowSize(master, size);
  const unwatch = io.watchSize?.((next) => {
    try {
      setWindowSize(master, next);
    } catch {
      // the container may be gone already; nothing to resize
    }
  });
  // A pty master reads EIO once every slave is closed: that is the end of output, not an error.
  const reader = new ReadStream(master);
  const drained = new Promise<void>((resolve) => {
    reader.on('error', () => resolve());
    reader.on('end', () => resolve());
    reader.on('close', () => resolve());
  });
  reader.on('data', (chunk: Buffer) => io.output.write(chunk));
  const onInput = (chunk: Buffer | string): void => {
    try {
      writeSync(master, typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    } catch {
      // the container closed its terminal
    }
  };
  io.input?.on('data', onInput);
  let detached: Promise<void> | undefined;
  return () =>
    (detached ??= (async () => {
      await drained;
      io.input?.off('data', onInput);
      io.input?.pause(); // a flowing stdin would keep hutch alive
      unwatch?.();
      reader.destroy(); // closes the master
    })());
}
