import { constants } from 'node:os';
import { closeSync, readlinkSync, writeSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Readable, Duplex } from 'node:stream';
import { BugError, HelperError, RuntimeError, UsageError } from '../errors.js';
import { errnoName } from '../sys/errno-name.js';
import { koffiLoaded } from '../sys/koffi.js';
import { childProcess } from '../sys/on-use.js';
import { nativeFile, packageRoot } from '../sys/package-files.js';
import type { FsStep, HelperPlan } from './plan.js';
import type { IdMapTool } from '../userns/newidmap.js';
import { TAG } from './wire-table.js';

const osSignals = constants.signals;

/**
 * The sole owner of the wire between hutch and native/hutch-nsexec (docs/wire.md, native/wire.h):
 * encodes a plan onto fd 3, speaks the sync protocol on fd 4 and decodes failures from fd 5.
 */
export const WIRE = { magic: 0x58534e48, version: 1, ptyMasterFd: 6 } as const;
export { TAG } from './wire-table.js';
export const SYNC = { CLONED: 1, MAPPED: 2, READY: 3, GO: 4 } as const;
export const STEPS = [
  '',
  'read plan',
  'parse plan',
  'clone',
  'sync',
  'propagation',
  'rootfs',
  'mount',
  'symlink',
  'mask',
  'readonly',
  'pivot_root',
  'readonly root',
  'hostname',
  'loopback',
  'rlimit',
  'terminal',
  'cwd',
  'setgroups',
  'setgid',
  'setuid',
  'caps',
  'no_new_privs',
  'seccomp',
  'init',
  'setsid',
  'exec',
  'pdeathsig',
  'cgroupns',
  'setns',
  'start fifo',
  'console socket',
  'tap',
  'preserve fds',
  'root propagation',
  'copyup',
  'sysctl',
  'home',
  'seal',
  'close fds',
  'dir',
  'file',
  'chmod',
  'id map',
] as const;
const MOUNT_OP = { MKDIR: 1, MKFILE: 2, REMOUNT_RO: 4, COPYUP: 8, NO_SYMLINKS: 16 } as const;
const FILE_OP = { BIND: 1, READONLY: 2 } as const;

/** A record of the plan: its tag, payload, and a description for error messages. */
interface WireRecord {
  tag: number;
  payload: Buffer;
  what: string;
}

/** Encodes a plan; returns the bytes and, per record index, what the record does (for errors). */
export function encodePlan(plan: HelperPlan): { bytes: Buffer; what: string[] } {
  const records = planRecords(plan);
  const header = Buffer.alloc(8);
  header.writeUInt32LE(WIRE.magic, 0);
  header.writeUInt32LE(WIRE.version, 4);
  const parts: Buffer[] = [header];
  for (const r of records) {
    const head = Buffer.alloc(6);
    head.writeUInt16LE(r.tag, 0);
    head.writeUInt32LE(r.payload.length, 2);
    parts.push(head, r.payload);
  }
  return { bytes: Buffer.concat(parts), what: records.map((r) => r.what) };
}

function str(...values: string[]): Buffer {
  return Buffer.concat(
    values.map((v) => {
      const bytes = Buffer.from(v + '\0');
      const len = Buffer.alloc(4);
      len.writeUInt32LE(bytes.length);
      return Buffer.concat([len, bytes]);
    }),
  );
}
/** Bytes in a string's framing (u32 length with the NUL, the bytes, a NUL): NULs inside are data. */
function bytes(data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32LE(data.length + 1);
  return Buffer.concat([len, data, Buffer.alloc(1)]);
}
function u32(...values: number[]): Buffer {
  const b = Buffer.alloc(4 * values.length);
  values.forEach((v, i) => b.writeUInt32LE(v >>> 0, 4 * i));
  return b;
}
function u64(...values: bigint[]): Buffer {
  const b = Buffer.alloc(8 * values.length);
  values.forEach((v, i) => b.writeBigUInt64LE(BigInt.asUintN(64, v), 8 * i));
  return b;
}
const empty = Buffer.alloc(0);

function fsRecord(step: FsStep): WireRecord {
  switch (step.kind) {
    case 'mount': {
      const ops =
        (step.mkdir ? MOUNT_OP.MKDIR : 0) |
        (step.mkfile ? MOUNT_OP.MKFILE : 0) |
        (step.remountRo ? MOUNT_OP.REMOUNT_RO : 0) |
        (step.copyUp ? MOUNT_OP.COPYUP : 0) |
        (step.noSymlinks ? MOUNT_OP.NO_SYMLINKS : 0);
      return {
        tag: TAG.MOUNT,
        payload: Buffer.concat([u32(step.flags, ops), str(step.source, step.target, step.fstype, step.data)]),
        what: `mount ${step.what}`,
      };
    }
    case 'symlink':
      return { tag: TAG.SYMLINK, payload: str(step.target, step.linkpath), what: `symlink ${step.linkpath}` };
    case 'dir':
      return {
        tag: TAG.DIR,
        payload: Buffer.concat([u32(step.mode), str(step.path)]),
        what: `make the directory ${step.what}`,
      };
    case 'file': {
      const ops = step.bind === undefined ? 0 : FILE_OP.BIND | (step.bind === 'ro' ? FILE_OP.READONLY : 0);
      return {
        tag: TAG.FILE,
        payload: Buffer.concat([u32(step.mode, ops), str(step.path), bytes(step.data)]),
        what: `${step.bind === undefined ? 'make the file' : 'bind the data at'} ${step.what}`,
      };
    }
    case 'chmod':
      return {
        tag: TAG.CHMOD,
        payload: Buffer.concat([u32(step.mode), str(step.path)]),
        what: `change the mode of ${step.what} to ${step.mode.toString(8).padStart(4, '0')}`,
      };
    case 'symlink-in-root':
      return {
        tag: TAG.SYMLINK_IN_ROOT,
        payload: str(step.target, step.linkpath),
        what: `make the symlink ${step.what}`,
      };
    case 'mask':
      return { tag: TAG.MASK, payload: str(step.path), what: `mask ${step.path}` };
    case 'readonly':
      return { tag: TAG.READONLY, payload: str(step.path), what: `make ${step.path} read-only` };
    case 'remount-ro':
      return { tag: TAG.REMOUNT_RO, payload: str(step.path), what: `remount ${step.what} read-only` };
    case 'sysctl':
      return { tag: TAG.SYSCTL, payload: str(step.path, step.value), what: `set the sysctl ${step.key}` };
  }
}

function planRecords(plan: HelperPlan): WireRecord[] {
  const r: WireRecord[] = [];
  const add = (tag: number, payload: Buffer, what: string): void => void r.push({ tag, payload, what });
  if (plan.parentDeathSignal !== undefined)
    add(TAG.PDEATHSIG, u32(plan.parentDeathSignal), 'set the parent-death signal');
  for (const j of plan.joins ?? [])
    add(TAG.SETNS, Buffer.concat([u32(j.type), str(j.path)]), `join the namespace ${j.path}`);
  add(TAG.CLONE_FLAGS, u32(plan.cloneFlags), 'create the namespaces');
  for (const m of plan.idMaps ?? [])
    add(TAG.ID_MAP, Buffer.concat([u32(m.kind === 'uid' ? 0 : 1), str(m.tool, m.args.join(' '))]), idMapWhat(m));
  if (plan.propagation !== undefined) add(TAG.PROPAGATION, u32(plan.propagation), 'set mount propagation');
  if (plan.rootfs !== undefined) add(TAG.ROOTFS, str(plan.rootfs), `use ${plan.rootfs} as the root`);
  r.push(...plan.fs.map(fsRecord));
  if (plan.readonlyRoot) add(TAG.READONLY_ROOT, empty, 'make the root read-only');
  if (plan.hostname !== undefined) add(TAG.HOSTNAME, str(plan.hostname), `set the hostname ${plan.hostname}`);
  if (plan.loopback) add(TAG.LOOPBACK, empty, 'bring up lo');
  for (const l of plan.rlimits)
    add(TAG.RLIMIT, Buffer.concat([u32(l.resource), u64(l.soft, l.hard)]), `set rlimit ${l.resource}`);
  if (plan.umask !== undefined) add(TAG.UMASK, u32(plan.umask), 'set the umask');
  if (plan.terminal) add(TAG.TERMINAL, empty, 'open the terminal');
  if (plan.cwd !== undefined) add(TAG.CWD, str(plan.cwd), `enter the working directory ${plan.cwd}`);
  if (plan.user !== undefined)
    add(TAG.USER, u32(plan.user.uid, plan.user.gid), `switch to uid ${plan.user.uid} gid ${plan.user.gid}`);
  if (plan.groups !== undefined)
    add(TAG.GROUPS, u32(plan.groups.length, ...plan.groups), 'set the supplementary groups');
  const c = plan.caps;
  if (c !== undefined)
    add(TAG.CAPS, u64(c.bounding, c.effective, c.permitted, c.inheritable, c.ambient), 'set the capabilities');
  if (plan.noNewPrivileges) add(TAG.NO_NEW_PRIVS, empty, 'set no_new_privs');
  if (plan.seccomp !== undefined) add(TAG.SECCOMP, Buffer.from(plan.seccomp), 'install the seccomp filter');
  for (const a of plan.args) add(TAG.ARG, str(a), `run ${plan.args[0]}`);
  if (plan.argv0 !== undefined) add(TAG.ARGV_ZERO, str(plan.argv0), `run ${plan.args[0]} as ${plan.argv0}`);
  for (const e of plan.env) add(TAG.ENV, str(e), 'set the environment');
  if (plan.init) add(TAG.INIT, empty, 'start the init');
  if (plan.detach) add(TAG.DETACH, empty, 'detach from the helper');
  if (plan.startFifo !== undefined) add(TAG.START_FIFO, str(plan.startFifo), `wait for start on ${plan.startFifo}`);
  if (plan.consoleSocket !== undefined)
    add(TAG.CONSOLE_SOCKET, str(plan.consoleSocket), `send the terminal to ${plan.consoleSocket}`);
  if (plan.tap !== undefined) add(TAG.TAP, str(plan.tap), `create the tap device ${plan.tap}`);
  if (plan.rootPropagation !== undefined)
    add(TAG.ROOT_PROPAGATION, u32(plan.rootPropagation), 'set the propagation of the root');
  if (plan.defaultHome) add(TAG.HOME, empty, 'set HOME from /etc/passwd');
  if (plan.preserveFds)
    add(
      TAG.PRESERVE_FDS,
      u32(plan.preserveFds, preservedFirst(plan.preserveFds)),
      `pass fds 3-${2 + plan.preserveFds} on`,
    );
  if (plan.seccompFlags) add(TAG.SECCOMP_FLAGS, u32(plan.seccompFlags), 'set the seccomp filter flags');
  if (plan.chownNotify) add(TAG.CHOWN_NOTIFY, empty, 'answer chown to unmapped ids');
  if (plan.onItsOwn) add(TAG.ON_ITS_OWN, empty, 'start without hutch once the maps are written');
  return r;
}

/** What an ID_MAP record does, in a failure's words ("map gids with newgidmap"). */
export function idMapWhat(m: IdMapTool): string {
  return `map ${m.kind}s with ${basename(m.tool)}`;
}

/** PID 1's command line with --init, as podman shows /run/podman-init. */
export const INIT_NAME = 'hutch-init';

/**
 * Where the helper binary is: $HUTCH_NSEXEC, or native/hutch-nsexec of hutch's own folder. An install
 * whose install step did not run (npm --ignore-scripts) has its source only: say how to build it.
 */
export function helperPath(): string {
  if (process.env.HUTCH_NSEXEC) return process.env.HUTCH_NSEXEC;
  const built = nativeFile('hutch-nsexec');
  if (built !== undefined) return built;
  const root = packageRoot();
  const source = root === undefined ? undefined : join(root, 'native');
  throw new RuntimeError(
    'NSEXEC_NOT_BUILT',
    `cannot start the helper ${source ?? 'native'}/hutch-nsexec: it is not built`,
    {
      hint: `build it with \`make -C ${source ?? 'native'}\` (needs make and a C compiler; npm's install step does it)`,
    },
  );
}

/** A failure the helper reported on fd 5. */
export interface HelperFailure {
  step: string;
  errno: number;
  what: string;
  /** Words the step sent after its record (ID_MAP: the tool's stderr). */
  detail?: string;
}

/** Turns a fd-5 failure into the HelperError the engine refines (exec ENOENT -> 127, ...). */
export function helperError(f: HelperFailure): HelperError {
  const why = f.detail === undefined ? errnoName(f.errno) : lastLine(f.detail);
  return new HelperError(f.step, f.errno, `cannot start the container: ${f.what}: ${f.step} failed: ${why}`, {
    hint: 'check the path or setting named above; `hutch system info` checks what this host allows',
    what: f.what,
    detail: f.detail,
  });
}

/** The last non-empty line of a tool's stderr (newuidmap says why last). */
export function lastLine(text: string): string {
  return text.trim().split('\n').pop() ?? '';
}

/** A running helper: the sync protocol as promises and calls, in the order they happen. */
export interface HelperProcess {
  /** The helper's own pid (it stays in hutch's namespaces and relays the exit status). */
  readonly helperPid: number;
  /** Resolves with the container process's pid (host pid namespace) once cloned. */
  cloned(): Promise<number>;
  /** Tells the child its id maps are written (always called, maps or not: it orders the sync); on its own, nothing. */
  mapped(): void;
  /** Resolves when namespaces and mounts are done and the child waits for go (created). */
  ready(): Promise<void>;
  /** Lets the child exec its process (start; on its own it does so itself); resolves once exec succeeded, rejects with HelperError. */
  go(): Promise<void>;
  /** Resolves with the helper's exit status (the container's: 128+N when killed by signal N). */
  exited(): Promise<number>;
  /** Rejects when the helper reported a failure at any step; never resolves otherwise. */
  failed(): Promise<never>;
  kill(signal: NodeJS.Signals): void;
}

/**
 * Where the helper receives the fds it passes on (--preserve-fds): above the wire (3-5), the pty
 * master (6) and their own targets (3..2+count); it moves them to 3.. just before exec.
 */
export function preservedFirst(count: number): number {
  return Math.max(10, 3 + count);
}

/** hutch's fds 3..2+count, in helper stdio order; each must be open (runc's --preserve-fds). */
function preservedStdio(count: number): StdioOptions0[] {
  if (count === 0) return [];
  const fds = Array.from({ length: count }, (_, i) => 3 + i);
  for (const fd of fds) {
    let target: string;
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      target = 'not open';
    }
    // Node's own event loop takes the lowest free fds: an epoll or eventfd there was not given to hutch.
    if (target === 'not open' || /^anon_inode:\[(eventpoll|eventfd|io_uring)\]$/.test(target)) {
      throw new UsageError(
        'PRESERVE_FDS_NOT_OPEN',
        `cannot pass fd ${fd} to the container: hutch was not given it (${target === 'not open' ? 'not open' : `it is Node's own ${target}`}; --preserve-fds ${count} passes ${count === 1 ? 'fd 3' : `fds 3-${2 + count}`})`,
        {
          hint: 'start hutch with the fds open as 3, 4, ..., or lower --preserve-fds',
        },
      );
    }
  }
  return [...Array<StdioOptions0>(preservedFirst(count) - 6).fill('ignore'), ...fds];
}

/** Spawns hutch-nsexec with `plan` on fd 3; stdio as for child_process.spawn (fds 0-2 only). */
/** `after`: the plan is sent once it resolves (the helper starts and waits for it); never if it rejects. */
export async function spawnHelper(
  plan: HelperPlan,
  stdio: [StdioOptions0, StdioOptions0, StdioOptions0],
  after?: Promise<unknown>,
): Promise<HelperProcess> {
  after?.catch(() => undefined); // a spawn that fails leaves it to no one: its caller says why
  const { bytes, what } = encodePlan(plan);
  const passed = preservedStdio(plan.preserveFds ?? 0);
  // On its own, the plan goes down a pipe written and closed before this returns: a socket's end
  // (its EOF) would wait for this process's event loop, which a synchronous parse may hold.
  const ownPlan = plan.onItsOwn ? (await import('../sys/pipe.js')).pipe() : undefined;
  let child: HelperChild;
  try {
    child = await startHelper(plan, [...stdio, ownPlan?.read ?? 'pipe', 'pipe', 'pipe', ...passed]);
  } catch (error) {
    if (ownPlan !== undefined) closeSync(ownPlan.write);
    throw error;
  } finally {
    if (ownPlan !== undefined) closeSync(ownPlan.read);
  }
  if (ownPlan !== undefined) writePlan(ownPlan.write, bytes);
  const sync = child.stdio[4]!,
    failures = child.stdio[5]!;
  const planFd = child.stdio[3];
  planFd?.on('error', () => undefined); // a helper that dies early closes its end; fd 5 says why
  if (planFd && after === undefined) planFd.end(bytes);
  else if (planFd && after !== undefined)
    after.then(
      () => planFd.end(bytes),
      () => undefined, // the caller reports why and kills the helper
    );
  const reader = new ByteReader(sync);
  const failure = readFailure(failures, what);
  const exit = child.exit;
  const failed = failure.then((f) =>
    f === undefined ? new Promise<never>(() => undefined) : Promise.reject(helperError(f)),
  );
  failed.catch(() => undefined);
  // A message that never comes means the helper failed (fd 5 says where) or died.
  const step = async <T>(p: Promise<T | undefined>, name: string): Promise<T> => {
    const value = await p;
    if (value !== undefined) return value;
    const f = await failure;
    if (f !== undefined) throw helperError(f);
    throw new BugError(`hutch-nsexec ended before ${name} (exit status ${await exit})`);
  };
  // On its own, the helper lets its child go on: MAPPED and GO are not sent (nor read).
  const write = (byte: number): void => void (!plan.onItsOwn && sync.writable && sync.write(Buffer.from([byte])));
  return {
    helperPid: child.pid,
    cloned: () =>
      step(
        reader.expect(SYNC.CLONED, 4).then((b) => b?.readInt32LE(0)),
        'clone',
      ),
    mapped: () => write(SYNC.MAPPED),
    ready: () =>
      step(
        reader.expect(SYNC.READY, 0).then((b) => (b === undefined ? undefined : true)),
        'ready',
      ).then(() => undefined),
    go: async () => {
      write(SYNC.GO);
      const f = await failure;
      if (f !== undefined) throw helperError(f);
    },
    exited: () => exit,
    failed: () => failed,
    kill: (signal) => child.kill(signal),
  };
}

/**
 * Writes the whole plan on the pipe to the helper (blocking: the helper reads it at once) and
 * closes it. A helper gone already (EPIPE) says why on fd 5.
 */
function writePlan(fd: number, bytes: Buffer): void {
  try {
    for (let done = 0; done < bytes.length;) done += writeSync(fd, bytes, done);
  } catch {
    // EPIPE: the helper ended; its failure record or exit status tells
  } finally {
    closeSync(fd);
  }
}

/** A helper started: its pid, its stdio pipes by fd, its exit status (128+N for signal N). */
interface HelperChild {
  pid: number;
  stdio: (Duplex | null)[];
  exit: Promise<number>;
  kill(signal: NodeJS.Signals): void;
}

/**
 * Starts the helper through posix_spawn (sys/spawn-light.ts: no fork of Node's page tables, a few
 * ms a run) when koffi is loaded already, else through child_process (`hutch sandbox`, which
 * does without koffi). Its own session: a ^C at hutch's terminal reaches hutch alone, which
 * forwards it once. With --init the helper stays as the container's PID 1: its argv and
 * environment show there (/proc/1/cmdline, /proc/1/environ), so a neutral name rather than the
 * host path, and an environment of its own: the caller's (tokens, HOME, XDG_RUNTIME_DIR) must not
 * show in a helper a container can see (its PID 1 under --init, `hutch exec`); the command's
 * comes in the plan.
 */
async function startHelper(plan: HelperPlan, stdio: StdioOptions0[]): Promise<HelperChild> {
  const options = { detached: true, argv0: plan.init ? INIT_NAME : undefined, env: {} };
  const status = (code: number | null, signal: NodeJS.Signals | null): number =>
    code ?? 128 + (signal ? signalNumber(signal) : 0);
  if (koffiLoaded()) {
    const { spawnLight } = await import('../sys/spawn-light.js');
    let child;
    try {
      child = spawnLight(helperPath(), [], { ...options, stdio });
    } catch (error) {
      throw new BugError(`cannot spawn ${helperPath()}`, error);
    }
    return {
      pid: child.pid,
      stdio: child.stdio,
      exit: child.exited.then(({ code, signal }) => status(code, signal)),
      kill: (signal) => void child.kill(signal),
    };
  }
  const child = childProcess().spawn(helperPath(), [], { ...options, stdio });
  const exit = new Promise<number>((resolve, reject) => {
    child.on('error', (error) => reject(new BugError(`cannot spawn ${helperPath()}`, error)));
    child.on('exit', (code, signal) => resolve(status(code, signal)));
  });
  return {
    pid: child.pid ?? -1,
    stdio: child.stdio as unknown as (Duplex | null)[],
    exit,
    kill: (signal) => void child.kill(signal),
  };
}

type StdioOptions0 = 'inherit' | 'ignore' | 'pipe' | number;

function signalNumber(signal: NodeJS.Signals): number {
  return (osSignals as Record<string, number>)[signal] ?? 0;
}

/** Reads fd 5 to its end: one failure record, or none when the process exec'd. */
function readFailure(stream: Readable, what: string[]): Promise<HelperFailure | undefined> {
  const chunks: Buffer[] = [];
  return new Promise((resolve) => {
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', () => undefined);
    stream.on('close', () => {
      const all = Buffer.concat(chunks);
      if (all.length < 12) return resolve(undefined);
      const step = all.readUInt32LE(0),
        errno = all.readInt32LE(4),
        index = all.readUInt32LE(8);
      const detail = all.length > 12 ? all.subarray(12).toString('utf8') : undefined;
      resolve({ step: STEPS[step] ?? `step ${step}`, errno, what: what[index] ?? 'read the plan', detail });
    });
  });
}

/** A byte queue over the sync socket: `expect(tag, n)` waits for the tag byte and n payload bytes. */
class ByteReader {
  private buffer = Buffer.alloc(0);
  private waiting: (() => void) | undefined;
  private ended = false;
  constructor(stream: Readable) {
    stream.on('data', (c: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, c]);
      this.waiting?.();
    });
    const end = (): void => {
      this.ended = true;
      this.waiting?.();
    };
    stream.on('end', end);
    stream.on('close', end);
    stream.on('error', end);
  }
  /** Resolves undefined when the stream ends first. */
  async expect(tag: number, n: number): Promise<Buffer | undefined> {
    while (this.buffer.length < 1 + n) {
      if (this.ended) return undefined;
      await new Promise<void>((resolve) => (this.waiting = resolve));
    }
    if (this.buffer[0] !== tag) throw new BugError(`hutch-nsexec sent sync message ${this.buffer[0]}, expected ${tag}`);
    const payload = this.buffer.subarray(1, 1 + n);
    this.buffer = this.buffer.subarray(1 + n);
    return payload;
  }
}
