import { closeSync } from 'node:fs';
import { connect, createServer, Socket, type Server } from 'node:net';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { pipe } from '../../sys/pipe.js';
import { shortSocketPath } from '../store/index.js';
import { serverFd } from './handover.js';

/**
 * The stdin of a detached container started with `-i`: the monitor holds the writing end of the
 * container's stdin for the whole run, and every byte `hutch attach` sends to this socket in the
 * runtime folder goes there. A client leaving does not close the container's stdin (a later
 * attach may type more), as with docker's `-i` without `--sig-proxy` or stdin-once.
 */
export function stdinSocketPath(runDir: string): string {
  return join(runDir, 'attach.sock');
}

/** The monitor's side for one run: what to hand the container, and the close after it ends. */
export interface HeldStdin {
  /** The pipe's reading end for stdio[0] (closed by `afterCreate`), when there is no terminal. */
  fd?: number;
  /** The keystrokes for the container's terminal (`-t`). */
  input?: NodeJS.ReadableStream;
  afterCreate(): void;
  close(): void;
  /** What the C waiter takes over (handover.ts): the socket's listening fd and the pipe's writing end (no terminal). */
  handover?: { listenFd: number; path: string; writeFd?: number };
}

export async function holdStdin(runDir: string, terminal: boolean): Promise<HeldStdin> {
  if (terminal) {
    const input = new PassThrough();
    input.on('error', () => undefined); // a client's write after the close: dropped
    const server = await serve(stdinSocketPath(runDir), input);
    const listenFd = serverFd(server);
    return {
      input,
      afterCreate: () => undefined,
      close: () => (server.close(), input.end()),
      handover: listenFd === undefined ? undefined : { listenFd, path: stdinSocketPath(runDir) },
    };
  }
  const ends = pipe();
  const writer = new Socket({ fd: ends.write, readable: false, writable: true });
  writer.on('error', () => undefined); // EPIPE once the container closed its stdin: input is dropped
  writer.unref();
  const server = await serve(stdinSocketPath(runDir), writer);
  const listenFd = serverFd(server);
  return {
    fd: ends.read,
    afterCreate: () => closeSync(ends.read),
    close: () => (server.close(), writer.destroy()),
    handover: listenFd === undefined ? undefined : { listenFd, writeFd: ends.write, path: stdinSocketPath(runDir) },
  };
}

/**
 * Each client's bytes go to `sink`, a client read only while `sink` takes more (pipe's
 * backpressure): a container that reads slowly holds its senders back, never the monitor's memory.
 */
function serve(path: string, sink: NodeJS.WritableStream): Promise<Server> {
  const server = createServer((conn) => {
    conn.on('error', () => undefined);
    conn.pipe(sink, { end: false }); // a client leaving leaves the container's stdin open
  });
  server.unref(); // never what keeps the monitor alive: a run that failed to create must not hang it
  const short = shortSocketPath(path);
  return new Promise<Server>((resolve, reject) => {
    server.once('error', reject);
    server.listen(short.path, () => resolve(server));
  }).finally(() => short.close());
}

/** The attach side: sends `input` to the container's stdin; returns the disconnect. */
export async function sendStdin(runDir: string, input: NodeJS.ReadStream): Promise<() => void> {
  const short = shortSocketPath(stdinSocketPath(runDir));
  const conn = await new Promise<Socket>((resolve, reject) => {
    const s = connect(short.path, () => resolve(s));
    s.once('error', reject);
  }).finally(() => short.close());
  conn.on('error', () => undefined);
  input.pipe(conn);
  return () => {
    input.unpipe(conn);
    input.pause(); // a flowing stdin would keep hutch alive
    conn.destroy();
  };
}
