import { writeSync } from 'node:fs';

/** How long to wait before trying a full pty again: from the first, doubled while it stays full. */
const RETRY_FIRST_MS = 1;
const RETRY_LAST_MS = 50;

/**
 * Types `input` into pty `master` (non-blocking: pty.ts setNonBlocking) without ever waiting on
 * it; returns the stop. A pty takes ~4 KiB of input its reader has not read (plus the line
 * discipline's buffers): a blocking write past that stopped hutch's only thread, hence its reading
 * of the master, and a container that wrote (its echo, `cat`) then stopped on a full output: a
 * deadlock. Now what the pty refuses waits here, `input` paused meanwhile (so at most a chunk or
 * two are held), and is tried again on a timer (libuv offers no wait for a pty master to take
 * writes: it writes to one blocking), `input` resumed once all is in. The stop drops what is
 * still held (the container is gone). The end of `input` sends nothing: a terminal has no end of
 * input but its EOF character (^D) in canonical mode, which is the caller's to type (as podman).
 */
export function typeInto(master: number, input: NodeJS.ReadableStream): () => void {
  const held: Buffer[] = [];
  let timer: NodeJS.Timeout | undefined;
  let delay = RETRY_FIRST_MS;
  let stopped = false;
  const flush = (): void => {
    timer = undefined;
    const progress = writeHeld(master, held);
    if (stopped) return;
    if (held.length === 0) return void input.resume();
    delay = progress ? RETRY_FIRST_MS : Math.min(delay * 2, RETRY_LAST_MS);
    timer = setTimeout(flush, delay);
  };
  const onData = (chunk: Buffer | string): void => {
    held.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    if (held.length > 1) return; // a retry is due
    flush();
    if (held.length > 0) input.pause();
  };
  input.on('data', onData);
  return () => {
    stopped = true;
    input.off('data', onData);
    input.pause(); // a flowing stdin would keep hutch alive
    clearTimeout(timer);
    held.length = 0;
  };
}

/**
 * Writes what `held` holds into the master, as much as it takes now, removing what went in; true
 * if anything did. A master that fails otherwise than EAGAIN (EIO: no slave left) takes nothing
 * more: all is dropped.
 */
function writeHeld(master: number, held: Buffer[]): boolean {
  let progress = false;
  while (held.length > 0) {
    const chunk = held[0]!;
    let n: number;
    try {
      n = writeSync(master, chunk);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') held.length = 0;
      return progress;
    }
    progress ||= n > 0;
    if (n < chunk.length) {
      held[0] = chunk.subarray(n);
      return progress;
    }
    held.shift();
  }
  return progress;
}
