import { closeSync, openSync } from 'node:fs';
import { Socket } from 'node:net';
import { pipe } from '../../sys/pipe.js';
import { openPeer, setWindowSize } from '../../sys/pty.js';
import { containerFiles, logWriter, type ContainerConfig, type ContainerStore } from '../store/index.js';
import { attachTerminal, type LaunchOptions } from '../launch/index.js';
import { holdStdin, type HeldStdin } from './stdin-socket.js';
import type { Handover } from './handover.js';

/** The container's stdio as the monitor holds it for one run. */
export interface ContainerIo {
  options: LaunchOptions;
  /** Closes this process's copies of the container's ends. */
  afterCreate(): void;
  /** Resolves once everything the container wrote is in the log. */
  drained(): Promise<void>;
  /** Stops copying the output here and gives the fds for the C waiter (handover.ts). */
  handover?: () => Pick<Handover, 'logFd' | 'out' | 'err' | 'slave' | 'stdin'>;
  /** The run stays in this process: a terminal's output is copied here from now on. */
  keep(): void;
}

/**
 * The user face logs stdout and stderr apart (a terminal's output as stdout); the OCI face passes
 * its caller's stdio through. `handing` says a hand-over is possible at all (handover.ts).
 */
export async function containerIo(
  store: ContainerStore,
  config: ContainerConfig,
  passed: [number, number, number] | undefined,
  handing: boolean,
): Promise<ContainerIo> {
  if (passed !== undefined)
    return {
      options: { stdio: passed },
      afterCreate: () => passed.forEach((fd) => closeSync(fd)),
      drained: async () => undefined,
      keep: () => undefined,
    };
  const files = containerFiles(store, config.id);
  const terminal = config.spec.process?.terminal === true;
  // `-i`: the container's stdin is a pipe the monitor holds open for `hutch attach` (monitor/stdin-socket.ts).
  const stdin = config.openStdin ? await holdStdin(files.runDir, terminal) : undefined;
  const logFd = openSync(files.log, 'a', 0o600);
  if (terminal) return terminalIo(config, logFd, stdin, handing);
  const out = pipe();
  const err = pipe();
  const copies = [drain(out.read, logWriter(logFd, 'stdout')), drain(err.read, logWriter(logFd, 'stderr'))];
  return {
    options: { stdio: [stdin?.fd ?? 'ignore', out.write, err.write] },
    afterCreate: () => {
      [out.write, err.write].forEach((fd) => closeSync(fd));
      stdin?.afterCreate();
    },
    drained: async () => {
      await Promise.all(copies.map((c) => c.done));
      stdin?.close();
      closeSync(logFd);
    },
    handover:
      stdin !== undefined && stdin.handover === undefined
        ? undefined
        : () => {
            copies.forEach((c) => c.stop());
            const held = stdin?.handover;
            return { logFd, out: out.read, err: err.read, stdin: held && { ...held, writeFd: held.writeFd ?? -1 } };
          },
    keep: () => undefined,
  };
}

/**
 * A terminal: when the run may be handed over, the monitor takes the pty master itself and reads
 * nothing before the hand-over (the container runs nothing before start; the pty buffers what it
 * writes meanwhile), so the C waiter reads it from the first byte; else, or if the run stays here
 * (keep), the master is joined to the log as a foreground run joins it to the caller's terminal.
 * Either way a slave stays open until the container is reaped, then the master is read dry
 * (launch/terminal.ts says why).
 */
function terminalIo(
  config: ContainerConfig,
  logFd: number,
  stdin: HeldStdin | undefined,
  handing: boolean,
): ContainerIo {
  const out = logWriter(logFd, 'stdout');
  const sink = { write: (c: Buffer) => (out.write(c), true) } as unknown as NodeJS.WritableStream;
  const io = { output: sink, input: stdin?.input };
  const size = config.spec.process?.consoleSize;
  let master: number | undefined;
  let slave: number | undefined; // held for the C waiter
  let detach: (() => Promise<void>) | undefined;
  return {
    options: handing
      ? {
          takeTerminal: (fd) => {
            master = fd;
            slave = openPeer(fd);
            setWindowSize(fd, size ? { rows: size.height, cols: size.width } : { rows: 24, cols: 80 });
          },
        }
      : { terminal: io },
    afterCreate: () => undefined,
    drained: async () => {
      if (master !== undefined && detach === undefined) [master, slave!].forEach((fd) => closeSync(fd)); // never started
      await detach?.();
      stdin?.close();
      out.end();
      closeSync(logFd);
    },
    handover:
      (stdin !== undefined && stdin.handover === undefined) || !handing
        ? undefined
        : () => ({
            logFd,
            out: master!,
            err: -1,
            slave,
            stdin: stdin?.handover && { ...stdin.handover, writeFd: master! },
          }),
    keep: () => {
      if (master === undefined || detach !== undefined) return;
      detach = attachTerminal(master, io, size, slave); // the slave held since takeTerminal, closed at the detach
    },
  };
}

/** Copies a pipe into the log; `stop` ends the copy here (the log gets the line begun as a P piece). */
function drain(fd: number, writer: ReturnType<typeof logWriter>): { done: Promise<void>; stop(): void } {
  const socket = new Socket({ fd, readable: true, writable: false });
  socket.on('data', (c: Buffer) => writer.write(c));
  const done = new Promise<void>((resolve) => socket.on('close', () => (writer.end(), resolve())));
  return { done, stop: () => (socket.pause(), writer.end()) };
}
