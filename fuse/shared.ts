import { constants } from 'node:os';
import { closeSync, openSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { describeCause } from '../src/errors.js';
import { lockWaiting } from '../src/sys/trylock.js';
import { oneShotTimer, type OneShotTimer } from '../src/sys/timerfd.js';
import { trace } from '../src/sys/trace.js';
import { attachSession, type AttachedSession } from './libfuse.js';
import { holdLowerTree, releaseLowerTree, takeLowerTree } from './lower-trees.js';
import { unionHandlers, type FastAnswers } from './ops.js';
import { decodeArgsLine, LEAVE_MESSAGE, lingerSetting, parseFsArgs, type FsOptions } from './options.js';
import { pageDropSettings, pagesLibraryPath, serveCalls, startPageDrops, type ServeCalls } from './pages.js';
import { Union } from './union.js';
import { keptFileFds } from './nodefd.js';
import { idShift, prepareWork, sessionOptions } from './daemon.js';

/**
 * The shared union daemon (issue 17; docs/fuse.md, "One daemon for several containers"): one
 * Node process serving the unions of every container of a user with the same id maps, instead
 * of one Node process (~8.6 MiB anonymous memory, Node's floor) per container. It listens on a
 * SOCK_SEQPACKET socket; a container's holder (native/fs-holder.c) mounts the union in the
 * container's namespaces and hands over the /dev/fuse fd. Per connection, two messages: the
 * session's argument line (encodeArgsLine, sent by hutch before it starts the holder), then one
 * byte carrying the fd. The daemon answers "ok" or why not, and keeps the connection open while
 * it serves the session: its end tells the holder the daemon is gone.
 *
 * One thread, one loop: hutch_fs_next (native/fs-serve.c) waits (epoll) on the listener, the
 * connections and the sessions' fds, each registered once, and reads the next request. A session
 * whose fd reports ENODEV (its mount is gone: the container's mount namespaces ended) is
 * destroyed. When the last session and connection are gone the daemon lingers (HUTCH_FS_LINGER
 * seconds, a timerfd in the wait; a new connection cancels it), holding nothing of a container
 * (the last image's lower tree, read-only, is kept for the next run: lower-trees.ts),
 * then unlinks its socket and exits, under the lock clients take to connect or start one
 * (src/engine/setup/shared-union.ts), so none connects to a daemon leaving. A connection whose
 * first message is LEAVE (hutch system reset, endSharedDaemons) makes it leave as soon as it
 * serves no session, without lingering. One that no client ever reaches leaves too (awaitFirst).
 */
const { ENODEV, EINTR, EAGAIN, EMFILE, ENFILE } = constants.errno;

/** How long a daemon waits for its first client (src/engine/setup/shared-union.ts LOCK_WAIT_MS, and more). */
const FIRST_CLIENT_WAIT_S = 15;

/** What to do about a union refused at the daemon's limits (said to that run only). */
const FEWER = 'run fewer containers at once, or set HUTCH_FS_SHARED=0 for a union daemon per container';
const MORE_FDS = `raise the open files limit (ulimit -n, its hard limit) where hutch starts, ${FEWER}`;
/** Fds kept free for serving (files unlinked while open, copy-ups, listings) when taking a union. */
const FD_RESERVE = 64;
/**
 * What one more union costs in fds: its connection, its /dev/fuse fd and the clone a second
 * channel reads where HUTCH_FS_CHANNELS=2 asks for one (native/fs-channel.c), libfuse's splice pipe.
 */
const FDS_PER_UNION = 5;

/** A connection that has not handed over its fd yet. */
interface Pending {
  conn: number;
  slot: number;
  opts?: FsOptions;
  /** Why this union is refused (a limit): said when its fd comes, so its holder reads it. */
  refused?: string | undefined;
}

/** A served union. */
interface Live {
  conn: number;
  slot: number;
  session: AttachedSession;
  union: Union;
  upper: string;
  lowerKey: string;
  mountpoint: string;
}

/**
 * How many unions the daemon takes at most: HUTCH_FS_SHARED_MAX (read only by the daemon; tests
 * set it low), else no count (the fds left under RLIMIT_NOFILE still limit).
 */
function sharedMax(env: NodeJS.ProcessEnv): number {
  const v = env.HUTCH_FS_SHARED_MAX;
  if (v === undefined || v === '') return Infinity;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`HUTCH_FS_SHARED_MAX=${v} is not a count of unions (an integer >= 1)`);
  return n;
}

export function serveShared(socketPath: string, lockPath: string): number {
  const ready = Number(process.env.HUTCH_FS_READY_FD ?? '1');
  const warn = (line: string): void => void process.stderr.write(`hutch-fs: warning: ${line}\n`);
  let calls: ServeCalls;
  let listener: number;
  let timer: OneShotTimer;
  const linger = lingerSetting(process.env, warn);
  let max: number;
  try {
    max = sharedMax(process.env);
    process.umask(0);
    calls = serveCalls(pagesLibraryPath());
    // The idle page drops count the loop's waits themselves (fs-idle.c); its receive is not used.
    startPageDrops(pageDropSettings(process.env, warn), warn, pagesLibraryPath());
    try {
      unlinkSync(socketPath); // a socket left by a daemon killed -9 (the client saw it refuse)
    } catch {
      // none
    }
    listener = calls.hutch_fs_listen(socketPath);
    if (listener < 0) throw new Error(`cannot listen on ${socketPath}: errno ${-listener}`);
    timer = oneShotTimer();
    // Who serves the containers of this socket (hutch's tests, an operator): removed as it leaves.
    writeFileSync(`${socketPath}.pid`, `${process.pid}\n`, { mode: 0o600 });
  } catch (e) {
    const msg = `hutch-fs: the shared union daemon cannot start: ${describeCause(e)}\n`;
    process.stderr.write(msg);
    writeSync(ready, msg);
    return 1;
  }
  writeSync(ready, 'ok\n');
  closeSync(ready);
  trace('fs shared listening');
  return new SharedLoop(calls, listener, socketPath, lockPath, max, linger, timer).run();
}

class SharedLoop {
  private readonly pending = new Map<number, Pending>();
  private readonly live = new Map<number, Live>(); // by session fd
  // What each watched slot (fs-serve.c) is: the listener, a connection's fd, a session.
  private readonly slots: (number | Live | undefined)[] = [];
  private readonly address = Buffer.alloc(8);
  // Taken back to accept and refuse a client when the daemon is out of fds (EMFILE), else the
  // listener would stay ready and the loop spin.
  private spare: number | undefined = openSync('/dev/null', 'r');
  private served: Live | undefined;
  private readonly fast: FastAnswers;
  private readonly buf = Buffer.alloc(40); // struct fuse_buf, one for all sessions (one thread)
  private readonly got = Buffer.alloc(4);
  private readonly message = Buffer.alloc(64 * 1024);
  private readonly fdOut = Buffer.alloc(4);
  /** Whether the linger timer runs (the daemon serves nobody and waits for its end or a client). */
  private lingering = false;
  private lingerOver = false;
  /** LEAVE asked: no linger any more; these connections end with the process (their client waits for that). */
  private readonly leavers: number[] = [];

  constructor(
    private readonly calls: ServeCalls,
    private readonly listener: number,
    private readonly socketPath: string,
    private readonly lockPath: string,
    private readonly max: number,
    private readonly linger: number,
    private readonly timer: OneShotTimer,
  ) {
    // hutch_fs_next answers lower files' GETATTR and READ, and listings' ends, in C from what the handlers publish.
    this.fast = { publish: calls.hutch_fs_publish, publishEnd: calls.hutch_fs_publish_end };
  }

  run(): number {
    try {
      this.slots[this.watch(this.listener, undefined)] = this.listener;
      this.slots[this.watch(this.timer.fd, undefined)] = this.timer.fd;
    } catch (e) {
      process.stderr.write(`hutch-fs: the shared union daemon cannot wait on its socket: ${describeCause(e)}\n`);
      return 1;
    }
    this.awaitFirst();
    for (;;) {
      const at = this.calls.hutch_fs_next(this.buf, this.got);
      if (at < 0) {
        process.stderr.write(`hutch-fs: the shared union daemon's wait (epoll_wait) failed: errno ${-at}\n`);
        return 1;
      }
      const what = this.slots[at];
      if (what === undefined) continue; // none: fs-serve.c drops the ready events of a slot unwatched
      if (typeof what !== 'number') this.guarded(what);
      else if (what === this.listener) this.accept();
      else if (what === this.timer.fd) this.lingerOver = true;
      else this.receive(what);
      if (this.live.size > 0 || this.pending.size > 0) this.stayed();
      else if (this.linger === 0 || this.leavers.length > 0 || this.lingerOver) {
        if (this.leave()) return 0;
        this.stayed(); // a client connected meanwhile
      } else if (!this.lingering) this.idle();
    }
  }

  /**
   * Until its first client: the run that started it may have handed its start on to another
   * process (hutch-run-front starts it ahead of a `run -d` that Node runs), which connects within
   * a run's lock wait; one that never comes (killed, or failed before it connected) must not
   * leave a daemon serving nobody for ever. It waits the longer of its linger and that wait.
   */
  private awaitFirst(): void {
    this.timer.arm(Math.max(this.linger, FIRST_CLIENT_WAIT_S) * 1000);
    this.lingering = true;
  }

  /**
   * The last session ended: the timer starts, and nothing of a container is held meanwhile (its
   * sessions and upper fds went with end(); the cwd was its upper directory). The image's indexed
   * lower tree is kept for the next run (lower-trees.ts). Its start-up pages go by the idle drop
   * (fs-idle.c), which sees this loop wait.
   */
  private idle(): void {
    process.chdir('/');
    this.served = undefined;
    this.timer.arm(this.linger * 1000);
    this.lingering = true;
    trace('fs shared linger');
  }

  /** A client came (or the linger could not end): the timer stops until the daemon is idle again. */
  private stayed(): void {
    if (this.lingering) this.timer.arm(0);
    this.lingering = false;
    this.lingerOver = false;
  }

  /** Registers an fd with the loop's wait (a session's: its requests are read there); its slot. */
  private watch(fd: number, session: bigint | undefined): number {
    if (session !== undefined) this.address.writeBigUInt64LE(session);
    const slot = this.calls.hutch_fs_watch(fd, session === undefined ? null : this.address);
    if (slot < 0) throw new Error(`cannot wait on fd ${fd} (epoll_ctl): errno ${-slot}`);
    return slot;
  }

  private unwatch(slot: number): void {
    this.calls.hutch_fs_unwatch(slot); // only fails for a slot not watched
    this.slots[slot] = undefined;
  }

  /** Why one more union is refused now, or undefined: the count asked, or the fds left. */
  private refusal(): string | undefined {
    // A connection is a union once its arguments came (a client holds others meanwhile: preheld-holder.ts).
    const unions = this.live.size + [...this.pending.values()].filter((p) => p.opts && !p.refused).length;
    const served = `serves ${unions} union${unions === 1 ? '' : 's'}`;
    if (unions >= this.max)
      return `the shared union daemon (pid ${process.pid}) already ${served}, its limit (HUTCH_FS_SHARED_MAX=${this.max}): ${FEWER}`;
    // The fds files are read through are given back when short (fuse/nodefd.ts): they count as left.
    const free = this.calls.hutch_fs_fds_left();
    const left = free < 0 ? free : free + keptFileFds();
    if (left >= 0 && left < FD_RESERVE + FDS_PER_UNION)
      return `the shared union daemon (pid ${process.pid}) ${served} and has ${left} file descriptors left under its RLIMIT_NOFILE: ${MORE_FDS}`;
    return undefined;
  }

  /**
   * A session's request; what its handlers throw already replies EIO (libfuse.ts), so what comes
   * here is the session's own trouble (its upper directory gone: the chdir): that session ends,
   * the daemon and the other sessions go on.
   */
  private guarded(s: Live): void {
    try {
      this.request(s);
    } catch (e) {
      this.end(s, `cannot serve it: ${describeCause(e)}`);
    }
  }

  private request(s: Live): void {
    const got = this.got.readInt32LE(0);
    if (got === -EINTR || got === -EAGAIN) return;
    if (got <= 0) {
      // 0: libfuse saw ENODEV (the mount is gone); <0: the device failed, said by libfuse.
      this.end(s, got === 0 || got === -ENODEV ? undefined : `reading /dev/fuse failed: errno ${-got}`);
      return;
    }
    // Upper paths are relative to the session's upper directory (UnionConfig.upper).
    if (this.served !== s) {
      process.chdir(s.upper);
      this.served = s;
    }
    s.session.process(this.buf);
  }

  private accept(): void {
    for (;;) {
      let conn = this.calls.hutch_fs_accept(this.listener);
      if ((conn === -EMFILE || conn === -ENFILE) && this.spare !== undefined) {
        closeSync(this.spare);
        this.spare = undefined;
        conn = this.calls.hutch_fs_accept(this.listener);
      }
      if (conn < 0) {
        this.spare ??= openSync('/dev/null', 'r');
        return;
      }
      if (this.spare === undefined) {
        // No fd to take its /dev/fuse with: said at once (its holder, still mounting, may read it
        // as a failed hand-over instead), and the spare taken back.
        const why =
          this.refusal() ??
          `the shared union daemon (pid ${process.pid}) is out of file descriptors under its RLIMIT_NOFILE: ${MORE_FDS}`;
        this.say(conn, `hutch-fs: cannot mount the union: ${why}\n`);
        closeSync(conn);
        this.spare = openSync('/dev/null', 'r');
        continue;
      }
      let slot: number;
      try {
        slot = this.watch(conn, undefined);
      } catch (e) {
        this.say(conn, `hutch-fs: cannot mount the union: ${describeCause(e)}\n`);
        closeSync(conn);
        continue;
      }
      this.slots[slot] = conn;
      this.pending.set(conn, { conn, slot });
    }
  }

  private receive(conn: number): void {
    const p = this.pending.get(conn)!;
    const n = this.calls.hutch_fs_recv(conn, this.message, this.message.length, this.fdOut);
    if (n === -EAGAIN || n === -EINTR) return;
    const fd = this.fdOut.readInt32LE(0);
    if (n <= 0) return this.drop(p); // the client went away before its holder handed over the mount
    try {
      if (p.opts === undefined) {
        if (fd >= 0) throw new Error('the fd came before the arguments');
        if (this.message.toString('utf8', 0, n) === LEAVE_MESSAGE) return this.leaveAsked(p);
        const line = decodeArgsLine(this.message.toString('utf8', 0, n));
        const opts = parseFsArgs(line.args, '/');
        // Counted and refused when its arguments come; said when its fd comes (its holder waits
        // for the answer only once it handed the fd over).
        p.refused = this.refusal();
        p.opts = opts;
      } else {
        if (fd < 0) throw new Error('the holder sent no /dev/fuse fd');
        if (p.refused !== undefined) throw new Error(p.refused);
        this.start(p, p.opts, fd);
      }
    } catch (e) {
      if (fd >= 0) closeSync(fd);
      const mountpoint = p.opts?.mountpoint ?? 'the union';
      this.say(conn, `hutch-fs: cannot mount ${mountpoint}: ${describeCause(e)}\n`);
      this.drop(p);
    }
  }

  /**
   * LEAVE: no linger from now on; the answer says how many sessions are still served (the
   * daemon leaves after the last). The connection stays open until the process ends: its end
   * tells the client the daemon is gone.
   */
  private leaveAsked(p: Pending): void {
    this.pending.delete(p.conn);
    this.unwatch(p.slot); // held open, not waited on: its end is the client's signal
    this.leavers.push(p.conn);
    this.say(p.conn, this.live.size === 0 ? 'ok\n' : `serving ${this.live.size}\n`);
    trace('fs shared leave asked');
  }

  /** A new session over the mount its holder made: the same union as a daemon of its own serves. */
  private start(p: Pending, opts: FsOptions, fuseFd: number): void {
    const whiteoutFiles = prepareWork(opts.work);
    process.chdir(opts.upper);
    this.served = undefined;
    const lower = takeLowerTree(opts.lowers);
    const union = new Union({
      lower: lower.tree,
      upper: opts.upper,
      work: opts.work,
      style: { overrideOnly: opts.overrideOnly, whiteoutFiles },
      squash: opts.squash,
      shift: idShift(opts),
    });
    const mountpoint = opts.mountpoint;
    const log = (e: unknown): void =>
      void process.stderr.write(
        `hutch-fs: ${mountpoint}: unexpected error (replied EIO): ${e instanceof Error ? e.stack : String(e)}\n`,
      );
    const session = attachSession(
      fuseFd,
      sessionOptions(opts),
      unionHandlers(union, opts.timeout, log, this.fast),
      log,
    );
    holdLowerTree(lower);
    union.invalidate = (id) => session.invalidate(id);
    let slot: number;
    try {
      slot = this.watch(session.fd, session.address);
    } catch (e) {
      // Said here, not thrown: the session owns the fd now (its destroy closes it).
      session.destroy();
      releaseLowerTree(lower.key);
      this.say(p.conn, `hutch-fs: cannot mount ${mountpoint}: ${describeCause(e)}\n`);
      this.drop(p);
      return;
    }
    this.unwatch(p.slot); // the connection's end is seen by its holder, not waited on here
    const s: Live = { conn: p.conn, slot, session, union, upper: opts.upper, lowerKey: lower.key, mountpoint };
    this.slots[slot] = s;
    this.pending.delete(p.conn);
    this.live.set(session.fd, s);
    this.say(p.conn, 'ok\n');
    trace('fs shared session');
  }

  /**
   * A session whose mount is gone: freed, its holder told by the end of its connection. Files
   * still open in it are closed here: a container killed has its files released before its
   * mount goes, but a session ended otherwise (its upper directory gone, a device error) gets
   * no RELEASE, and their fds would keep its files (a deleted one's space too) as long as the
   * daemon lives, which now outlives its last container.
   */
  private end(s: Live, why: string | undefined): void {
    if (why !== undefined) process.stderr.write(`hutch-fs: ${s.mountpoint}: ${why}: the session ends\n`);
    this.live.delete(s.session.fd);
    this.unwatch(s.slot);
    s.session.destroy();
    s.union.fileFds.closeAll();
    closeSync(s.conn);
    releaseLowerTree(s.lowerKey);
    if (this.served === s) this.served = undefined;
    trace(
      `fs shared session end, ${s.union.listings.given} entries given with listings, ${this.calls.hutch_fs_fast_count()} answered in C so far, ${this.calls.hutch_fs_second_count()} of them on the second channel, ${this.calls.hutch_fs_ends_count()} listings' ends`,
    );
  }

  private drop(p: Pending): void {
    this.pending.delete(p.conn);
    this.unwatch(p.slot);
    closeSync(p.conn);
  }

  private say(conn: number, text: string): void {
    const b = Buffer.from(text);
    this.calls.hutch_fs_send(conn, b, b.length); // a holder gone meanwhile: its connection ends next
  }

  /**
   * Whether the daemon may end now: under the clients' lock, a connection already queued keeps
   * it (a client connected before the lock was taken); else the socket goes before the lock is
   * released, so the next client starts a new daemon.
   */
  private leave(): boolean {
    let lock: number | undefined;
    try {
      lock = lockWaiting(this.lockPath);
    } catch {
      // The runtime folder is gone (hutch system reset): nobody can connect any more.
    }
    try {
      if (lock !== undefined) {
        this.accept();
        if (this.pending.size > 0) return false;
      }
      for (const file of [this.socketPath, `${this.socketPath}.pid`])
        try {
          unlinkSync(file);
        } catch {
          // already gone (hutch system reset): nobody can connect
        }
      closeSync(this.listener);
      this.timer.close();
      trace('fs shared exit');
      return true;
    } finally {
      if (lock !== undefined) closeSync(lock); // releases the lock
    }
  }
}
