import { isAbsolute } from 'node:path';
import { describeCause } from '../src/errors.js';
import { errnoName } from '../src/sys/errno-name.js';
import { nativeFile } from '../src/sys/package-files.js';
import { loadFunctions, type ReceiveBuf } from './libfuse.js';

/**
 * The daemon's page drops (docs/fuse.md, "Memory"): Node touches ~30 MiB of the node binary to
 * start, and serving a container's start brings ~10 MiB back, which a daemon blocked in
 * read(/dev/fuse) does not touch again. native/hutch-fs-pages.so (fs-pages.c: the rule, the smaps
 * parser and the madvise; fs-idle.c: the request counter and the idle watcher thread) gives them
 * back each time the daemon has been idle for HUTCH_FS_IDLE_MS, the first time once the container's
 * start is served (0: no watcher, one drop at mount). HUTCH_FS_PAGES=keep keeps every page (to compare).
 */
export const DEFAULT_IDLE_MS = 1000;

/** The library's calls (native/fs-pages.h). */
interface PagesLibrary {
  hutch_fs_pages_init: () => number;
  hutch_fs_receive_buf: ReceiveBuf;
  hutch_pages_drop: () => number;
  hutch_fs_idle_watch: (ms: number) => number;
  hutch_pages_droppable: (text: Buffer, len: number, out: Buffer, max: number) => number;
  hutch_fs_listen: (path: string) => number;
  hutch_fs_accept: (listener: number) => number;
  hutch_fs_recv: (conn: number, buf: Buffer, len: number, fdOut: Buffer) => number;
  hutch_fs_send: (conn: number, buf: Buffer, len: number) => number;
  hutch_fs_watch: (fd: number, session: Buffer | null) => number;
  hutch_fs_unwatch: (slot: number) => number;
  hutch_fs_next: (buf: Buffer, got: Buffer) => number;
  hutch_fs_fds_left: () => number;
  hutch_fs_publish: PublishAnswer;
  hutch_fs_publish_end: PublishListingEnd;
  hutch_fs_fast_count: () => number;
  hutch_fs_ends_count: () => number;
  hutch_fs_second_count: () => number;
}

/**
 * Publishes a lower file's attributes (the struct stat replied) and path for the session being
 * served: the loop then answers its GETATTR and READ in C (native/fs-fast.c) until something may
 * change it. Returns 0, or -ENOMEM (nothing published: JS keeps answering).
 */
export type PublishAnswer = (nodeId: number, stat: Buffer, ttl: number, path: string) => number;

/**
 * Publishes where a directory's listing ends (the offset after its last entry): the loop then
 * gives the READDIR(PLUS) from there, getdents' last, its empty reply in C. 0, or -ENOMEM.
 */
export type PublishListingEnd = (nodeId: number, end: number) => number;

const PROTOTYPES = [
  'int hutch_fs_pages_init(void)',
  'int hutch_fs_receive_buf(void *se, void *buf)',
  'long hutch_pages_drop(void)',
  'int hutch_fs_idle_watch(unsigned int ms)',
  'long hutch_pages_droppable(void *text, size_t len, void *out, size_t max)',
  'int hutch_fs_listen(const char *path)',
  'int hutch_fs_accept(int listener)',
  'long hutch_fs_recv(int conn, void *buf, size_t len, void *fd_out)',
  'long hutch_fs_send(int conn, void *buf, size_t len)',
  'int hutch_fs_watch(int fd, void *session)',
  'int hutch_fs_unwatch(int slot)',
  'int hutch_fs_next(void *buf, void *got)',
  'long hutch_fs_fds_left(void)',
  'int hutch_fs_publish(uint64_t nodeid, void *st, double ttl, const char *path)',
  'int hutch_fs_publish_end(uint64_t nodeid, uint64_t end)',
  'unsigned long hutch_fs_fast_count(void)',
  'unsigned long hutch_fs_ends_count(void)',
  'unsigned long hutch_fs_second_count(void)',
];

/** The shared daemon's socket and loop calls (native/fs-serve.c; fuse/shared.ts). */
export type ServeCalls = Pick<
  PagesLibrary,
  | 'hutch_fs_listen'
  | 'hutch_fs_accept'
  | 'hutch_fs_recv'
  | 'hutch_fs_send'
  | 'hutch_fs_watch'
  | 'hutch_fs_unwatch'
  | 'hutch_fs_next'
  | 'hutch_fs_fds_left'
  | 'hutch_fs_publish'
  | 'hutch_fs_publish_end'
  | 'hutch_fs_fast_count'
  | 'hutch_fs_ends_count'
  | 'hutch_fs_second_count'
>;

/** The library's serve calls; throws with why it cannot be loaded (the shared daemon cannot run without). */
export function serveCalls(path: string | undefined): ServeCalls {
  if (path === undefined) throw new Error('native/hutch-fs-pages.so is not built (make -C native)');
  return library(path);
}

/** native/hutch-fs-pages.so of hutch's own folder (the checkout's or the installed package's); undefined when not built. */
export function pagesLibraryPath(): string | undefined {
  return nativeFile('hutch-fs-pages.so');
}

const loaded = new Map<string, PagesLibrary>();

/** Loads the library once per path; throws with why it cannot. */
function library(path: string): PagesLibrary {
  let lib = loaded.get(path);
  if (lib === undefined) {
    // dlopen would look a relative path up from the working folder: never load one.
    if (!isAbsolute(path)) throw new Error('a library path that is not absolute is never loaded');
    lib = loadFunctions(path, PROTOTYPES) as unknown as PagesLibrary;
    if (lib.hutch_fs_pages_init() !== 0) throw new Error(`it cannot find libfuse's fuse_session_receive_buf`);
    loaded.set(path, lib);
  }
  return lib;
}

/** How the daemon drops its pages, from its environment. */
export interface PageDropSettings {
  keep: boolean;
  idleMs: number;
}

/** HUTCH_FS_PAGES=keep, HUTCH_FS_IDLE_MS (a count of ms, 0: off; unset: DEFAULT_IDLE_MS). */
export function pageDropSettings(env: NodeJS.ProcessEnv, warn: (line: string) => void): PageDropSettings {
  const keep = env.HUTCH_FS_PAGES === 'keep';
  const raw = env.HUTCH_FS_IDLE_MS ?? '';
  if (raw === '') return { keep, idleMs: DEFAULT_IDLE_MS };
  if (/^\d{1,10}$/.test(raw) && Number(raw) <= 2 ** 31) return { keep, idleMs: Number(raw) };
  warn(`HUTCH_FS_IDLE_MS=${raw} is not a count of milliseconds: the idle page drop waits ${DEFAULT_IDLE_MS} ms`);
  return { keep, idleMs: DEFAULT_IDLE_MS };
}

/**
 * Starts the idle watcher (with HUTCH_FS_IDLE_MS=0: drops the pages once, now); returns the receive function the serve loop
 * must call for the watcher to see requests (libfuse's own when there is no watcher). A library
 * that cannot be loaded or a drop that fails is said once (`warn`); the daemon then serves as it
 * did before the drops, its pages resident.
 */
export function startPageDrops(
  settings: PageDropSettings,
  warn: (line: string) => void,
  path: string | undefined,
): ReceiveBuf | undefined {
  if (settings.keep) return undefined;
  let lib: PagesLibrary;
  try {
    if (path === undefined) throw new Error('it is not built (make -C native)');
    lib = library(path);
  } catch (e) {
    warn(
      `cannot load ${path ?? 'native/hutch-fs-pages.so'}: ${describeCause(e)}: the daemon keeps its start-up pages resident`,
    );
    return undefined;
  }
  if (settings.idleMs === 0) {
    const dropped = lib.hutch_pages_drop();
    if (dropped < 0) warn(`cannot drop the start-up pages: ${errnoName(-dropped)}: the daemon keeps them resident`);
    return undefined;
  }
  // With the watcher, the first drop waits for the container's start to end: a drop at mount made
  // that start fault the same pages back (+50-70 ms to the first answer of `run -d -p`).
  const err = lib.hutch_fs_idle_watch(settings.idleMs);
  if (err !== 0) {
    warn(`cannot start the idle page drop's thread: ${errnoName(err)}`);
    return undefined;
  }
  return lib.hutch_fs_receive_buf;
}

/** The mappings the library would drop in an smaps text (its parser, for the tests). */
export function droppableMappings(smaps: string, path: string): { start: bigint; end: bigint; rss: number }[] {
  const text = Buffer.from(smaps, 'latin1');
  const max = 1024;
  const out = Buffer.alloc(max * 24);
  const count = library(path).hutch_pages_droppable(text, text.length, out, max);
  if (count < 0 || count > max) throw new Error(`hutch_pages_droppable returned ${count}`);
  return Array.from({ length: count }, (_, i) => ({
    start: out.readBigUInt64LE(i * 24),
    end: out.readBigUInt64LE(i * 24 + 8),
    rss: Number(out.readBigUInt64LE(i * 24 + 16)),
  }));
}

/**
 * The library's publish calls once it is loaded (startPageDrops or serveCalls loaded it): the
 * loop that answers what they publish is the library's (hutch_fs_receive_buf, hutch_fs_next).
 */
export function publishCalls(path: string | undefined): { publish?: PublishAnswer; publishEnd?: PublishListingEnd } {
  const lib = path === undefined ? undefined : loaded.get(path);
  return { publish: lib?.hutch_fs_publish, publishEnd: lib?.hutch_fs_publish_end };
}
