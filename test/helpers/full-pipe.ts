// A child's stdout whose reader has not read yet: what the child writes waits in the child (a
// write that does not fit waits in libuv), the way it does when the caller reads slower than
// hutch writes. A process.exit then dropped it (src/cli/exit-when-written.ts).
import { closeSync, writeSync } from 'node:fs';
import { Socket } from 'node:net';
import { pipe } from '../../src/sys/pipe.js';
import { setNonBlocking } from '../../src/sys/pty.js';

export interface FullPipe {
  /** The write end for the child's stdout (fdStdio); `spawned` closes this process's copy. */
  write: number;
  spawned(): void;
  /** Reads everything, from now until the child's end; resolves to what the child wrote. */
  readAll(): Promise<Buffer>;
}

/** A pipe filled up to what it takes, nothing read yet. */
export function fullPipe(): FullPipe {
  const { read, write } = pipe();
  setNonBlocking(write); // the filling stops at EAGAIN; the child's libuv makes its copy so anyway
  const page = Buffer.alloc(4096, '-');
  let filled = 0;
  for (;;) {
    try {
      filled += writeSync(write, page);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EAGAIN') break;
      throw error;
    }
  }
  return {
    write,
    spawned: () => closeSync(write),
    readAll: () => {
      const reader = new Socket({ fd: read, readable: true, writable: false }); // it reads at once: made only now
      const chunks: Buffer[] = [];
      reader.on('data', (d: Buffer) => chunks.push(d));
      return new Promise((resolve, reject) => {
        reader.once('error', reject);
        reader.once('close', () => resolve(Buffer.concat(chunks).subarray(filled)));
      });
    },
  };
}

/**
 * Resolves once `child` ended or, when it waits for its stdout to be read, a second passed (not a
 * timing bound: the runs that lost their output ended well within it).
 */
export function endedOrWaiting(exited: Promise<unknown>): Promise<unknown> {
  return Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 1000))]);
}
