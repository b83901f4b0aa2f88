import { EventEmitter } from 'node:events';
import { closeSync, openSync, readdirSync } from 'node:fs';
import { Socket } from 'node:net';
import { constants as osConstants } from 'node:os';
import type { Duplex, Readable, Writable } from 'node:stream';
import { SysError } from '../errors.js';
import { check, errnoName, koffi, libcFunction } from './libc.js';

/**
 * Starts a program with posix_spawn(3) instead of child_process. libuv (1.46, Node 20 to 24)
 * starts every child with fork(): the kernel copies the page tables of the whole Node process,
 * and both sides then take copy-on-write faults; its cost grows with Node's resident size
 * (docs/startup.md, issue 17). glibc's posix_spawn uses clone(CLONE_VM|CLONE_VFORK): nothing
 * copied, the same cost from any parent. For the spawns on a container's start chain.
 *
 * The child is not libuv's, so no ChildProcess: `LightChild` carries what callers use of one
 * (pid, stdio pipes, 'exit', kill, ref/unref). Its exit is heard on SIGCHLD: libuv's own handler
 * waitpid()s only its own children's pids, and ours waitpid()s only ours.
 */

/** What a child's fd gets: the parent's same fd (0-2), /dev/null, a new socket pair, or a given fd. */
export type LightStdio = 'inherit' | 'ignore' | 'pipe' | number;

export interface LightSpawnOptions {
  /** The child's fds 0..n-1 in order; every other fd is closed in the child. Default inherit 0-2. */
  stdio?: readonly LightStdio[];
  /** The child's whole environment (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** argv[0] when not `command`. */
  argv0?: string;
  /** A session of its own (setsid), as child_process's `detached`. */
  detached?: boolean;
}

const posixSpawn = libcFunction(
  'int posix_spawn(_Out_ int *pid, const char *path, void *actions, void *attr, const char **argv, const char **envp)',
);
const posixSpawnp = libcFunction(
  'int posix_spawnp(_Out_ int *pid, const char *file, void *actions, void *attr, const char **argv, const char **envp)',
);
const actionsInit = libcFunction('int posix_spawn_file_actions_init(void *actions)');
const actionsDestroy = libcFunction('int posix_spawn_file_actions_destroy(void *actions)');
const actionsDup2 = libcFunction('int posix_spawn_file_actions_adddup2(void *actions, int fd, int newfd)');
const actionsClose = libcFunction('int posix_spawn_file_actions_addclose(void *actions, int fd)');
// glibc 2.34+; before it, the fds Node holds without close-on-exec are listed and closed one by one.
const actionsClosefrom = optionalFunction('int posix_spawn_file_actions_addclosefrom_np(void *actions, int from)');
const fcntlC = libcFunction('int fcntl(int fd, int cmd, ...)');
const attrInit = libcFunction('int posix_spawnattr_init(void *attr)');
const attrDestroy = libcFunction('int posix_spawnattr_destroy(void *attr)');
const attrSetFlags = libcFunction('int posix_spawnattr_setflags(void *attr, short flags)');
const attrSetSigmask = libcFunction('int posix_spawnattr_setsigmask(void *attr, void *set)');
const attrSetSigdefault = libcFunction('int posix_spawnattr_setsigdefault(void *attr, void *set)');
const sigemptyset = libcFunction('int sigemptyset(void *set)');
const socketpairC = libcFunction('int socketpair(int domain, int type, int protocol, _Out_ int *fds)');
const waitpidC = libcFunction('int waitpid(int pid, _Out_ int *status, int options)');

// glibc's constants (spawn.h, bits/socket.h, bits/waitflags.h) on Linux.
const POSIX_SPAWN_SETSIGDEF = 0x04;
const POSIX_SPAWN_SETSIGMASK = 0x08;
const POSIX_SPAWN_SETSID = 0x80;
const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_CLOEXEC = 0o2000000;
const WNOHANG = 1;
const { ECHILD, EINTR } = osConstants.errno;
// Opaque glibc objects, sized with room: posix_spawn_file_actions_t is 80 bytes, posix_spawnattr_t
// 336, sigset_t 128 on x86_64 and aarch64.
const ACTIONS_SIZE = 256;
const ATTR_SIZE = 1024;
const SIGSET_SIZE = 128;
const ADDDUP2 = 'posix_spawn_file_actions_adddup2';
const ADDCLOSE = 'posix_spawn_file_actions_addclose';
const F_GETFD = 1;
const FD_CLOEXEC = 1;

/**
 * A program started by spawnLight: the parts of a ChildProcess hutch's callers use. Emits 'exit'
 * (code, signal) once, as a ChildProcess; never 'error': a spawn that fails throws.
 */
export class LightChild extends EventEmitter {
  /** The parent's ends of the 'pipe' entries of stdio, by child fd (null for the others). */
  readonly stdio: (Duplex | null)[];
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  /** Resolves once the child has ended and is reaped (no zombie left). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private referenced = true;
  private done = false;
  private settle!: (end: { code: number | null; signal: NodeJS.Signals | null }) => void;

  constructor(
    readonly pid: number,
    stdio: (Duplex | null)[],
  ) {
    super();
    this.stdio = stdio;
    this.exited = new Promise((resolve) => (this.settle = resolve));
  }

  get stdin(): Writable | null {
    return this.stdio[0] ?? null;
  }
  get stdout(): Readable | null {
    return this.stdio[1] ?? null;
  }
  get stderr(): Readable | null {
    return this.stdio[2] ?? null;
  }

  /** Signals the child; false once it has ended (its pid may be another process's by then). */
  kill(signal: NodeJS.Signals | number = 'SIGTERM'): boolean {
    if (this.done) return false;
    try {
      process.kill(this.pid, signal);
      return true;
    } catch {
      return false; // ESRCH: gone between its end and our reaping it
    }
  }

  /** Whether the child holds this process's event loop open until it ends (it does by default). */
  ref(): void {
    if (this.referenced || this.done) return;
    this.referenced = true;
    holdLoop(1);
  }
  unref(): void {
    if (!this.referenced || this.done) return;
    this.referenced = false;
    holdLoop(-1);
  }

  /** Called by the SIGCHLD handler with waitpid's status. */
  ended(status: number): void {
    this.done = true;
    if (this.referenced) holdLoop(-1);
    const termsig = status & 0x7f;
    if (termsig === 0) this.exitCode = (status >> 8) & 0xff;
    else this.signalCode = signalName(termsig);
    this.settle({ code: this.exitCode, signal: this.signalCode });
    this.emit('exit', this.exitCode, this.signalCode);
  }
}

/**
 * Starts `command` (searched on PATH when it has no slash, as child_process does) with `args`.
 * The child starts with no signal blocked and every signal at its default (Node ignores SIGPIPE;
 * a program must not inherit that). Throws an Error like child_process's 'error' event
 * (`spawn CMD ENOENT`, with code, errno, syscall, path) when the program cannot be started.
 */
export function spawnLight(command: string, args: readonly string[], options: LightSpawnOptions = {}): LightChild {
  const stdio = options.stdio ?? ['inherit', 'inherit', 'inherit'];
  listenForChildren();
  const opened: number[] = []; // closed here whatever happens: the child has its own copies
  const parentEnds: number[] = []; // the parent's fd of each 'pipe' entry, by child fd
  const actions = Buffer.alloc(ACTIONS_SIZE);
  const attr = Buffer.alloc(ATTR_SIZE);
  spawnCheck(actionsInit(actions) as number, 'posix_spawn_file_actions_init');
  spawnCheck(attrInit(attr) as number, 'posix_spawnattr_init');
  try {
    const sources = stdio.map((entry, fd) => {
      if (entry === 'inherit') {
        if (fd > 2) throw new Error(`spawn ${command}: 'inherit' is for fds 0-2, not ${fd}`);
        return fd;
      }
      if (entry === 'ignore') {
        const devnull = openSync('/dev/null', fd === 0 ? 'r' : 'w'); // Node opens it close-on-exec
        opened.push(devnull);
        return devnull;
      }
      if (entry === 'pipe') {
        const pair = [0, 0];
        check('socketpair', socketpairC(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) as number);
        opened.push(pair[1]!);
        parentEnds[fd] = pair[0]!;
        return pair[1]!;
      }
      return entry;
    });
    // Each source first onto a number above every source and target, then onto its target: a
    // source that is another entry's target (fd 1 given as fd 2) is not overwritten before use.
    const above = Math.max(stdio.length, ...sources) + 1;
    sources.forEach((source, fd) => spawnCheck(actionsDup2(actions, source, above + fd) as number, ADDDUP2));
    sources.forEach((_, fd) => spawnCheck(actionsDup2(actions, above + fd, fd) as number, ADDDUP2));
    // Node opens its fds close-on-exec, but not all it holds are: its own 0-2 and what it inherited
    // (a caller's fds, e.g. a shell's). None of them is the child's.
    if (actionsClosefrom !== undefined) spawnCheck(actionsClosefrom(actions, stdio.length) as number, ADDCLOSE);
    else
      for (const fd of [...sources.map((_, fd) => above + fd), ...inheritableFds(stdio.length)])
        spawnCheck(actionsClose(actions, fd) as number, ADDCLOSE);

    const empty = Buffer.alloc(SIGSET_SIZE);
    // Every bit, not sigfillset: that leaves out glibc's own signals 32 and 33, which its
    // posix_spawn then sets to SIG_IGN in the child, and an ignored signal stays so across exec.
    const all = Buffer.alloc(SIGSET_SIZE, 0xff);
    sigemptyset(empty);
    spawnCheck(attrSetSigmask(attr, empty) as number, 'posix_spawnattr_setsigmask');
    spawnCheck(attrSetSigdefault(attr, all) as number, 'posix_spawnattr_setsigdefault');
    const flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | (options.detached ? POSIX_SPAWN_SETSID : 0);
    spawnCheck(attrSetFlags(attr, flags) as number, 'posix_spawnattr_setflags');

    const env = options.env ?? process.env;
    const envp = Object.entries(env)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${v}`);
    const argv = [options.argv0 ?? command, ...args, null];
    const pid = [0];
    const spawn = command.includes('/') ? posixSpawn : posixSpawnp;
    const error = spawn(pid, command, actions, attr, argv, [...envp, null]) as number;
    if (error !== 0) throw spawnError(command, args, error);
    const ends = stdio.map((_, fd) => {
      const end = parentEnds[fd];
      if (end === undefined) return null;
      // Node's own pipe type over the socket (a unix socket pair, as libuv's stdio pipes).
      return new Socket({ fd: end, readable: fd !== 0, writable: fd > 2 || fd === 0 });
    });
    const child = new LightChild(pid[0]!, ends);
    children.set(child.pid, child);
    // Its SIGCHLD, even if it has ended already, is dispatched by the loop after this returns:
    // the handler was installed before the spawn.
    holdLoop(1);
    return child;
  } catch (error) {
    for (const fd of parentEnds) if (fd !== undefined) closeSync(fd);
    throw error;
  } finally {
    for (const fd of opened) closeSync(fd);
    actionsDestroy(actions);
    attrDestroy(attr);
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- koffi's functions take and return what the prototype says
function optionalFunction(prototype: string): ((...args: any[]) => any) | undefined {
  try {
    return libcFunction(prototype);
  } catch {
    return undefined; // an older libc
  }
}

/** This process's fds from `from` up that an exec'd program would hold (not close-on-exec). */
export function inheritableFds(from: number): number[] {
  return readdirSync('/proc/self/fd')
    .map(Number)
    .filter((fd) => fd >= from && ((fcntlC(fd, F_GETFD, 'int', 0) as number) & FD_CLOEXEC) === 0);
}

/** posix_spawn and its helpers return an errno value, not -1 and errno. */
function spawnCheck(result: number, step: string): void {
  if (result !== 0) throw new SysError(step, result, errnoName(result));
}

/** The Error child_process gives for a program it cannot start ('spawn X ENOENT'). */
function spawnError(command: string, args: readonly string[], errno: number): Error {
  const code = errnoName(errno);
  return Object.assign(new Error(`spawn ${command} ${code}`), {
    errno: -errno,
    code,
    syscall: `spawn ${command}`,
    path: command,
    spawnargs: [...args],
  });
}

function signalName(signo: number): NodeJS.Signals | null {
  const found = Object.entries(osConstants.signals).find(([, n]) => n === signo);
  return (found?.[0] as NodeJS.Signals | undefined) ?? null;
}

/** Our children not yet reaped, by pid. */
const children = new Map<number, LightChild>();
let listening = false;

function listenForChildren(): void {
  if (listening) return;
  listening = true;
  // Node's signal handle is unref'd: a child holds the loop through holdLoop, as a ChildProcess.
  process.on('SIGCHLD', reap);
}

/** waitpid(WNOHANG) on each of our children: SIGCHLDs merge, so every one is asked each time. */
function reap(): void {
  for (const [pid, child] of children) {
    const status = [0];
    let got: number;
    do got = waitpidC(pid, status, WNOHANG) as number;
    while (got === -1 && koffi.errno() === EINTR);
    if (got === 0) continue;
    children.delete(pid);
    // ECHILD: someone else reaped it (a waitpid(-1) elsewhere): its status is lost.
    child.ended(got === -1 && koffi.errno() === ECHILD ? 0xff00 : status[0]!);
  }
}

let holders = 0;
let keepAlive: NodeJS.Timeout | undefined;

/** A ref'd timer that never fires while a referenced child runs: the loop waits for its SIGCHLD. */
function holdLoop(delta: number): void {
  holders += delta;
  if (holders > 0 && keepAlive === undefined) keepAlive = setInterval(() => undefined, 2 ** 31 - 1);
  else if (holders <= 0 && keepAlive !== undefined) {
    clearInterval(keepAlive);
    keepAlive = undefined;
  }
}
