import { readFileSync } from 'node:fs';
import { entryCommand } from '../../sys/entry-points.js';
import { nativeFile } from '../../sys/package-files.js';
import { execve, keepFdsAcrossExec } from '../../sys/exec.js';
import { containerFiles, type ContainerStore } from '../store/index.js';

/**
 * The hand-over to native/hutch-monitor (C, docs/cost.md): once the container runs, this process
 * execs the C waiter (same pid: the container's helper, the union filesystem's holder,
 * slirp4netns and the forwarder stay its children; every fd stays open), which copies the output
 * into the log, answers the control and attach sockets and reaps; when the container ends it
 * stops the set-up's processes and execs this monitor again as `finish` (main.ts), which records
 * the exit and applies the restart policy and --rm (not when `rm -f` removes the record: it
 * ends then, see lifecycle.ts markRemoving). An idle container then costs ~1 MB here
 * instead of a Node process (~15 MiB PSS, ~55 MiB RSS).
 */
export interface Handover {
  store: ContainerStore;
  id: string;
  /** Which run of the restart policy this is (0 for the first). */
  attempt: number;
  logFd: number;
  /** The reading ends of the container's stdout and stderr pipes. */
  out: number;
  err: number;
  /** A terminal: a slave of its pty, which the waiter holds until the container is reaped (terminal.ts). */
  slave?: number;
  /** `-i`: the attach socket's listening fd and the writing end of the container's stdin. */
  stdin?: { listenFd: number; writeFd: number; path: string };
  /** The control socket's listening fd. */
  controlFd: number;
  helperPid: number;
  containerPid: number;
  /** The union filesystem daemon (its end ends the container) and its helper, this process's child. */
  holderPid?: number;
}

/** HUTCH_MONITOR=node keeps the Node monitor for the whole run (to compare, or where exec fails). */
export function waiterPath(): string | undefined {
  if (process.env.HUTCH_MONITOR === 'node') return undefined;
  return nativeFile('hutch-monitor');
}

/** Execs the C waiter with what this process holds; returns only by throwing. */
export function handOver(waiter: string, h: Handover): never {
  const args = [
    `log=${h.logFd}`,
    `out=${h.out}`,
    `err=${h.err}`,
    `control=${h.controlFd}`,
    `helper=${h.helperPid}`,
    `container=${h.containerPid}`,
  ];
  if (h.slave !== undefined) args.push(`slave=${h.slave}`);
  if (h.stdin) args.push(`attach=${h.stdin.listenFd}`, `stdin=${h.stdin.writeFd}`, `attach-path=${h.stdin.path}`);
  if (h.holderPid !== undefined) args.push(`holder=${h.holderPid}`, `holder-helper=${parentOf(h.holderPid)}`);
  args.push(`removing=${containerFiles(h.store, h.id).removing}`);
  const finish = [
    process.execPath,
    ...process.execArgv,
    ...entryCommand('monitor'),
    h.store.data,
    h.store.run,
    h.id,
    'finish',
    String(h.attempt),
  ];
  keepFdsAcrossExec();
  return execve(waiter, ['hutch-monitor', ...args, '--', ...finish], process.env);
}

/** The union daemon's pid from the helper's joins (/proc/PID/ns/mnt is only ever the holder's). */
export function holderOf(joins: { path: string }[] | undefined): number | undefined {
  for (const j of joins ?? []) {
    const m = /^\/proc\/(\d+)\/ns\/mnt$/.exec(j.path);
    if (m !== null) return Number(m[1]);
  }
  return undefined;
}

function parentOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

/** The fd under a listening net.Server (a pipe server's libuv handle). */
export function serverFd(server: unknown): number | undefined {
  return (server as { _handle?: { fd?: number } })._handle?.fd;
}
