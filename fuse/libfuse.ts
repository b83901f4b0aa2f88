import { loadKoffi } from '../src/sys/koffi.js';

/**
 * libfuse 3's low-level API through koffi (Debian's libfuse3-3, no compile step). The JS thread
 * drives the loop itself (fuse_session_receive_buf / process_buf), so callbacks run directly on
 * it: one request at a time, replied before the next is read. This suits a daemon process of its
 * own (bin/hutch-fs); see docs/fuse.md for the decisions behind it.
 */
const koffi = loadKoffi();
const lib = koffi.load('libfuse3.so.3');
const libc = koffi.load('libc.so.6');
const strlen = libc.func('size_t strlen(void *s)');

koffi.struct('hutch_fuse_args', { argc: 'int', argv: 'char **', allocated: 'int' });
const sessionNew = lib.func('void *fuse_session_new(hutch_fuse_args *args, void *ops, size_t size, void *data)');
const sessionMount = lib.func('int fuse_session_mount(void *se, const char *mountpoint)');
const sessionUnmount = lib.func('void fuse_session_unmount(void *se)');
const sessionDestroy = lib.func('void fuse_session_destroy(void *se)');
const sessionFd = lib.func('int fuse_session_fd(void *se)');
const receiveBuf = lib.func('int fuse_session_receive_buf(void *se, void *buf)');
const processBuf = lib.func('void fuse_session_process_buf(void *se, void *buf)');
const reqCtx = lib.func('void *fuse_req_ctx(void *req)');
const invalInode = lib.func('int fuse_lowlevel_notify_inval_inode(void *se, uint64_t ino, int64_t off, int64_t len)');

/** fuse_session_receive_buf's shape: the serve loop reads each request through one. */
export type ReceiveBuf = (se: unknown, buf: Buffer) => number;

/**
 * A C library's functions by name, from their prototypes (`int name(...)`): fuse/pages.ts's
 * native/hutch-fs-pages.so, whose counting receive calls this libfuse's (load it after this file).
 */
export function loadFunctions(path: string, prototypes: readonly string[]): Record<string, unknown> {
  const loaded = koffi.load(path);
  return Object.fromEntries(prototypes.map((p) => [/(\w+)\(/.exec(p)![1], loaded.func(p)]));
}

/** The reply calls; `req` is the opaque request pointer a callback received. */
export const reply = {
  err: lib.func('int fuse_reply_err(void *req, int err)') as (req: bigint, errno: number) => number,
  none: lib.func('void fuse_reply_none(void *req)') as (req: bigint) => void,
  entry: lib.func('int fuse_reply_entry(void *req, void *e)') as (req: bigint, e: Buffer) => number,
  create: lib.func('int fuse_reply_create(void *req, void *e, void *fi)') as (
    req: bigint,
    e: Buffer,
    fi: Buffer,
  ) => number,
  attr: lib.func('int fuse_reply_attr(void *req, void *attr, double timeout)') as (
    req: bigint,
    a: Buffer,
    t: number,
  ) => number,
  readlink: lib.func('int fuse_reply_readlink(void *req, void *link)') as (req: bigint, link: Buffer) => number,
  open: lib.func('int fuse_reply_open(void *req, void *fi)') as (req: bigint, fi: Buffer) => number,
  write: lib.func('int fuse_reply_write(void *req, size_t count)') as (req: bigint, n: number) => number,
  buf: lib.func('int fuse_reply_buf(void *req, void *buf, size_t size)') as (
    req: bigint,
    b: Buffer | null,
    n: number,
  ) => number,
  data: lib.func('int fuse_reply_data(void *req, void *bufv, int flags)') as (
    req: bigint,
    v: Buffer,
    flags: number,
  ) => number,
  statfs: lib.func('int fuse_reply_statfs(void *req, void *st)') as (req: bigint, s: Buffer) => number,
  xattr: lib.func('int fuse_reply_xattr(void *req, size_t count)') as (req: bigint, n: number) => number,
};

/** Who made a request (uid/gid inside the mount's user namespace, and the umask). */
export interface Caller {
  uid: number;
  gid: number;
  pid: number;
  umask: number;
}

/** The caller of a request: struct fuse_ctx {uid, gid, pid, umask}. */
export function callerOf(req: bigint): Caller {
  // koffi.decode of single fields: koffi.view (an external ArrayBuffer) costs ~2.5 µs a call.
  const p = reqCtx(req);
  const u32 = (at: number): number => koffi.decode(p, at, 'uint32_t') as number;
  return { uid: u32(0), gid: u32(4), pid: u32(8), umask: u32(12) };
}

/** The id of the thread a request is for (its pid in the mount's pid namespace; a thread's own id). */
export function pidOf(req: bigint): number {
  return koffi.decode(reqCtx(req), 8, 'uint32_t') as number;
}

/** The operations a file system implements; names are byte strings (latin1), fh our handle. */
export interface LowLevelHandlers {
  lookup(req: bigint, parent: number, name: string): void;
  forget(ino: number, nlookup: number): void;
  getattr(req: bigint, ino: number, fh: number | undefined): void;
  setattr(req: bigint, ino: number, attr: Buffer, toSet: number, fh: number | undefined): void;
  readlink(req: bigint, ino: number): void;
  mknod(req: bigint, parent: number, name: string, mode: number, rdev: number): void;
  mkdir(req: bigint, parent: number, name: string, mode: number): void;
  unlink(req: bigint, parent: number, name: string): void;
  rmdir(req: bigint, parent: number, name: string): void;
  symlink(req: bigint, target: string, parent: number, name: string): void;
  rename(req: bigint, parent: number, name: string, newParent: number, newName: string, flags: number): void;
  link(req: bigint, ino: number, newParent: number, newName: string): void;
  open(req: bigint, ino: number, flags: number): void;
  read(req: bigint, ino: number, size: number, off: number, fh: number): void;
  write(req: bigint, ino: number, data: bigint, size: number, off: number, fh: number): void;
  release(req: bigint, ino: number, fh: number): void;
  fsync(req: bigint, ino: number, datasync: number, fh: number): void;
  opendir(req: bigint, ino: number): void;
  readdir(req: bigint, ino: number, size: number, off: number, fh: number): void;
  readdirplus(req: bigint, ino: number, size: number, off: number, fh: number): void;
  releasedir(req: bigint, ino: number, fh: number): void;
  statfs(req: bigint, ino: number): void;
  setxattr(req: bigint, ino: number, name: string, value: Buffer, flags: number): void;
  getxattr(req: bigint, ino: number, name: string, size: number): void;
  listxattr(req: bigint, ino: number, size: number): void;
  removexattr(req: bigint, ino: number, name: string): void;
  create(req: bigint, parent: number, name: string, mode: number, flags: number): void;
}

// eslint-disable-next-line no-control-regex -- the ASCII test: NUL is ASCII too
const ASCII = /^[\x00-\x7f]*$/;
// Names as byte strings (latin1). Fast path: decoded as a C string, exact when it is ASCII;
// otherwise the exact bytes (UTF-8 decoding would mangle a name that is not valid UTF-8).
const bytes = (p: bigint): string => {
  const s = koffi.decode(p, 'char', -1) as string;
  if (ASCII.test(s)) return s;
  const n = Number(strlen(p));
  return n === 0 ? '' : Buffer.from(koffi.view(p, n)).toString('latin1');
};
const STAT_BYTES = koffi.array('uint8_t', 144, 'Typed');
const statOf = (p: bigint): Buffer => {
  const u8 = koffi.decode(p, STAT_BYTES) as Uint8Array;
  return Buffer.from(u8.buffer, u8.byteOffset, u8.length);
};
const fiFh = (fi: bigint | null): number | undefined =>
  fi === null || fi === 0n ? undefined : Number(koffi.decode(fi, 16, 'uint64_t'));
const fiFlags = (fi: bigint): number => koffi.decode(fi, 'int') as number;
const n = (v: number | bigint): number => Number(v);
const FI = (fi: bigint): number => fiFh(fi) ?? 0;

// [offset in fuse_lowlevel_ops, C prototype, adapter from raw arguments to a handler call]
type Adapter = (h: LowLevelHandlers, a: any[]) => void; // eslint-disable-line @typescript-eslint/no-explicit-any
const OPS: [number, string, Adapter][] = [
  [16, 'void lookup(void *r, uint64_t p, void *name)', (h, a) => h.lookup(a[0], n(a[1]), bytes(a[2]))],
  [32, 'void getattr(void *r, uint64_t i, void *fi)', (h, a) => h.getattr(a[0], n(a[1]), fiFh(a[2]))],
  [
    40,
    'void setattr(void *r, uint64_t i, void *st, int set, void *fi)',
    (h, a) => h.setattr(a[0], n(a[1]), statOf(a[2]), a[3], fiFh(a[4])),
  ],
  [48, 'void readlink(void *r, uint64_t i)', (h, a) => h.readlink(a[0], n(a[1]))],
  [
    56,
    'void mknod(void *r, uint64_t p, void *name, uint32_t mode, uint64_t rdev)',
    (h, a) => h.mknod(a[0], n(a[1]), bytes(a[2]), a[3], n(a[4])),
  ],
  [
    64,
    'void mkdir(void *r, uint64_t p, void *name, uint32_t mode)',
    (h, a) => h.mkdir(a[0], n(a[1]), bytes(a[2]), a[3]),
  ],
  [72, 'void unlink(void *r, uint64_t p, void *name)', (h, a) => h.unlink(a[0], n(a[1]), bytes(a[2]))],
  [80, 'void rmdir(void *r, uint64_t p, void *name)', (h, a) => h.rmdir(a[0], n(a[1]), bytes(a[2]))],
  [
    88,
    'void symlink(void *r, void *link, uint64_t p, void *name)',
    (h, a) => h.symlink(a[0], bytes(a[1]), n(a[2]), bytes(a[3])),
  ],
  [
    96,
    'void rename(void *r, uint64_t p, void *name, uint64_t np, void *nn, unsigned int flags)',
    (h, a) => h.rename(a[0], n(a[1]), bytes(a[2]), n(a[3]), bytes(a[4]), a[5]),
  ],
  [104, 'void link(void *r, uint64_t i, uint64_t np, void *nn)', (h, a) => h.link(a[0], n(a[1]), n(a[2]), bytes(a[3]))],
  [112, 'void open(void *r, uint64_t i, void *fi)', (h, a) => h.open(a[0], n(a[1]), fiFlags(a[2]))],
  [
    120,
    'void read(void *r, uint64_t i, size_t size, int64_t off, void *fi)',
    (h, a) => h.read(a[0], n(a[1]), n(a[2]), n(a[3]), FI(a[4])),
  ],
  [
    128,
    'void write(void *r, uint64_t i, void *buf, size_t size, int64_t off, void *fi)',
    (h, a) => h.write(a[0], n(a[1]), a[2], n(a[3]), n(a[4]), FI(a[5])),
  ],
  [144, 'void release(void *r, uint64_t i, void *fi)', (h, a) => h.release(a[0], n(a[1]), FI(a[2]))],
  [152, 'void fsync(void *r, uint64_t i, int datasync, void *fi)', (h, a) => h.fsync(a[0], n(a[1]), a[2], FI(a[3]))],
  [160, 'void opendir(void *r, uint64_t i, void *fi)', (h, a) => h.opendir(a[0], n(a[1]))],
  [
    168,
    'void readdir(void *r, uint64_t i, size_t size, int64_t off, void *fi)',
    (h, a) => h.readdir(a[0], n(a[1]), n(a[2]), n(a[3]), FI(a[4])),
  ],
  [176, 'void releasedir(void *r, uint64_t i, void *fi)', (h, a) => h.releasedir(a[0], n(a[1]), FI(a[2]))],
  [184, 'void fsyncdir(void *r, uint64_t i, int datasync, void *fi)', (h, a) => h.fsync(a[0], n(a[1]), a[2], -1)],
  [192, 'void statfs(void *r, uint64_t i)', (h, a) => h.statfs(a[0], n(a[1]))],
  [
    200,
    'void setxattr(void *r, uint64_t i, void *name, void *value, size_t size, int flags)',
    (h, a) =>
      h.setxattr(
        a[0],
        n(a[1]),
        bytes(a[2]),
        n(a[4]) === 0 ? Buffer.alloc(0) : Buffer.from(koffi.view(a[3], n(a[4]))),
        a[5],
      ),
  ],
  [
    208,
    'void getxattr(void *r, uint64_t i, void *name, size_t size)',
    (h, a) => h.getxattr(a[0], n(a[1]), bytes(a[2]), n(a[3])),
  ],
  [216, 'void listxattr(void *r, uint64_t i, size_t size)', (h, a) => h.listxattr(a[0], n(a[1]), n(a[2]))],
  [224, 'void removexattr(void *r, uint64_t i, void *name)', (h, a) => h.removexattr(a[0], n(a[1]), bytes(a[2]))],
  [
    240,
    'void create(void *r, uint64_t p, void *name, uint32_t mode, void *fi)',
    (h, a) => h.create(a[0], n(a[1]), bytes(a[2]), a[3], fiFlags(a[4])),
  ],
  [
    328,
    'void readdirplus(void *r, uint64_t i, size_t size, int64_t off, void *fi)',
    (h, a) => h.readdirplus(a[0], n(a[1]), n(a[2]), n(a[3]), FI(a[4])),
  ],
];

const KILLPRIV = 1 << 20;
const ATOMIC_O_TRUNC = 1 << 3;
const READDIRPLUS_AUTO = 1 << 14;
const CACHE_SYMLINKS = 1 << 23;
const SPLICE_WRITE = 1 << 7;

/** A mounted FUSE session. */
export interface Session {
  /**
   * Serves requests until the file system is unmounted; then releases the session. Each request is
   * read with `receive` (libfuse's own by default; fuse/pages.ts's counts them).
   */
  serve(receive?: ReceiveBuf): void;
  /**
   * Drops the kernel's cached attributes and pages of a node. Safe inside a handler: without
   * writeback caching the kernel never waits on us for it.
   */
  invalidate(nodeId: number): void;
}

/**
 * Creates a session with mount options (e.g. "allow_other,default_permissions,fsname=x") and
 * mounts it. `onError` names an unexpected exception of a handler; the request gets EIO.
 */
export function mountSession(
  mountpoint: string,
  options: string,
  handlers: LowLevelHandlers,
  onError: (e: unknown) => void,
  debug = false,
): Session {
  const { ops, registered } = registerOps({ handlers, onError });
  const argv = ['hutch-fs', '-o', options, ...(debug ? ['-d'] : [])];
  const se = sessionNew({ argc: argv.length, argv, allocated: 0 }, ops, ops.length, null);
  if (!se) throw new Error(`fuse_session_new refused the options ${options}`);
  if (sessionMount(se, mountpoint) !== 0) {
    sessionDestroy(se);
    throw new Error(
      `cannot mount fuse at ${mountpoint} (is /dev/fuse usable and are we root in a user and mount namespace?)`,
    );
  }
  return {
    invalidate: (nodeId) => void invalInode(se, nodeId, 0, 0),
    serve(receive = receiveBuf as ReceiveBuf): void {
      const buf = Buffer.alloc(40);
      for (;;) {
        const got = receive(se, buf);
        if (got === -4 /* EINTR */ || got === -11 /* EAGAIN */) continue;
        if (got <= 0) break;
        processBuf(se, buf);
      }
      sessionUnmount(se);
      sessionDestroy(se);
      for (const ptr of registered) koffi.unregister(ptr);
    },
  };
}

/**
 * One session of the shared daemon (fuse/shared.ts): its mount was made by another process
 * (native/fs-holder.c), which handed over the /dev/fuse fd. Requests are read by the daemon's
 * loop (hutch-fs-pages.so's hutch_fs_next) and handed to `process`.
 */
export interface AttachedSession {
  /** libfuse's struct fuse_session *, as an address for the loop's table. */
  readonly address: bigint;
  /** The /dev/fuse fd the loop waits on. */
  readonly fd: number;
  /** Processes the request the loop read into `buf` with this session's handlers. */
  process(buf: Buffer): void;
  invalidate(nodeId: number): void;
  /** Frees the session and closes its fd (the kernel then ends the mount's connection). */
  destroy(): void;
}

/** The shared daemon's callbacks, registered once: they call the handlers of the session being served. */
let routed: { ops: Buffer; route: Route } | undefined;

/**
 * A session over an already mounted /dev/fuse fd (libfuse >= 3.3 takes "/dev/fd/N" as the
 * mountpoint for that); `options` as mountSession's (libfuse parses them; the mount is made).
 */
export function attachSession(
  fuseFd: number,
  options: string,
  handlers: LowLevelHandlers,
  onError: (e: unknown) => void,
): AttachedSession {
  routed ??= (() => {
    const route: Route = { handlers, onError };
    return { ops: registerOps(route).ops, route };
  })();
  const { ops, route } = routed;
  const argv = ['hutch-fs', '-o', options];
  const se = sessionNew({ argc: argv.length, argv, allocated: 0 }, ops, ops.length, null);
  if (!se) throw new Error(`fuse_session_new refused the options ${options}`);
  if (sessionMount(se, `/dev/fd/${fuseFd}`) !== 0) {
    sessionDestroy(se);
    throw new Error(`libfuse did not take the mounted /dev/fuse fd ${fuseFd}`);
  }
  return {
    address: koffi.address(se) as bigint,
    fd: sessionFd(se) as number,
    process(buf: Buffer): void {
      route.handlers = handlers;
      route.onError = onError;
      processBuf(se, buf);
    },
    invalidate: (nodeId) => void invalInode(se, nodeId, 0, 0),
    destroy: () => void sessionDestroy(se),
  };
}

/** Whose handlers the registered callbacks call. */
interface Route {
  handlers: LowLevelHandlers;
  onError: (e: unknown) => void;
}

/** Fills a struct fuse_lowlevel_ops with registered callbacks; every one replies, even on a throw. */
function registerOps(route: Route): { ops: Buffer; registered: bigint[] } {
  const registered: bigint[] = [];
  const ops = Buffer.alloc(352);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const put = (offset: number, proto: string, fn: (...a: any[]) => void): void => {
    const ptr = koffi.register(fn, koffi.pointer(koffi.proto(proto.replace(/ (\w+)\(/, ' hutch_fuse_$1('))));
    registered.push(ptr);
    ops.writeBigUInt64LE(ptr, offset);
  };
  for (const [offset, proto, adapter] of OPS) {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    put(offset, proto, (...a: any[]): void => {
      try {
        adapter(route.handlers, a);
      } catch (e) {
        route.onError(e);
        if (typeof a[0] === 'bigint') reply.err(a[0], 5);
      }
    });
  }
  put(0, 'void init(void *u, void *conn)', (_u: bigint, conn: bigint) => {
    // The kernel then clears setuid/setgid on write itself (by a setattr), as on any file system.
    const c = new Uint32Array(koffi.view(conn, 32));
    // SPLICE_WRITE: fd-backed replies (reads) go file -> pipe -> /dev/fuse, never through memory.
    // No ATOMIC_O_TRUNC: with no OPEN sent (ops.ts fileOps) an open's O_TRUNC must come as a SETATTR.
    // No READDIRPLUS_AUTO: every READDIR of a listing is a READDIRPLUS (its later parts too), and
    // ops.ts readdirplus decides which entries are worth their attributes.
    c[6] = (c[6]! & ~(KILLPRIV | ATOMIC_O_TRUNC | READDIRPLUS_AUTO)) | (c[5]! & (CACHE_SYMLINKS | SPLICE_WRITE));
  });
  put(24, 'void forget(void *r, uint64_t i, uint64_t nl)', (r: bigint, i: number, nl: number) => {
    route.handlers.forget(n(i), n(nl));
    reply.none(r);
  });
  put(304, 'void forget_multi(void *r, size_t count, void *forgets)', (r: bigint, count: number, f: bigint) => {
    const b = Buffer.from(koffi.view(f, n(count) * 16));
    for (let i = 0; i < n(count); i++)
      route.handlers.forget(Number(b.readBigUInt64LE(i * 16)), Number(b.readBigUInt64LE(i * 16 + 8)));
    reply.none(r);
  });
  return { ops, registered };
}
