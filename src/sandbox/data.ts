import { closeSync, readdirSync, readlinkSync, readSync } from 'node:fs';
import { UsageError } from '../errors.js';
import { pauseSync } from '../sys/pause.js';

/**
 * All the bytes of one sandbox's --file, --bind-data and --ro-bind-data together: the front reads
 * them before anything runs and sends them in the helper's plan (native/wire.h: 16 MiB at most).
 */
export const SANDBOX_DATA_MAX = 8 << 20;

const CHUNK = 1 << 16;

/**
 * Whether `fd` is one the caller gave. Node opens fds of its own at start (epoll, eventfd, pipes),
 * possibly at the very number the caller left closed, and marks the inherited ones close-on-exec
 * too, so nothing tells them apart for sure once Node runs. native/hutch-sandbox (what `hutch
 * sandbox` starts) lists the caller's in HUTCH_SANDBOX_FDS when it hands over; without it (`node
 * bin/hutch sandbox`), Node's kinds are refused: an anonymous inode, or a pipe with both ends here.
 */
export function callerFd(fd: number): boolean {
  const listed = process.env.HUTCH_SANDBOX_FDS;
  if (listed !== undefined) return listed.split(',').includes(String(fd));
  const link = (n: number | string): string | undefined => {
    try {
      return readlinkSync(`/proc/self/fd/${n}`);
    } catch {
      return undefined;
    }
  };
  const target = link(fd);
  if (target === undefined || target.startsWith('anon_inode:')) return false;
  return !target.startsWith('pipe:') || readdirSync('/proc/self/fd').filter((n) => link(n) === target).length < 2;
}

/**
 * Reads the caller's fd `fd` to its end, at most `limit` bytes, then closes it (it never reaches the
 * helper or the command). `what` names the flag for errors (`--file 3 /etc/x`); `large` is the error past `limit`.
 */
export function readCallerFd(fd: number, what: string, limit: number, large = tooLarge): Buffer {
  if (!callerFd(fd))
    throw new UsageError('SANDBOX_DATA_FD', `cannot read ${what}: fd ${fd} is not open`, {
      hint: `open it for hutch, e.g. ${fd}< FILE or ${fd}< <(COMMAND)`,
    });
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for (;;) {
      const chunk = Buffer.alloc(Math.min(CHUNK, limit + 1 - total));
      let n: number;
      try {
        n = readSync(fd, chunk, 0, chunk.length, null);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EAGAIN') pauseSync(5);
        else throw new UsageError('SANDBOX_DATA_FD', `cannot read ${what}: ${(e as Error).message}`, { cause: e });
        continue;
      }
      if (n === 0) return Buffer.concat(chunks, total);
      chunks.push(chunk.subarray(0, n));
      total += n;
      if (total > limit) throw large(what);
    }
  } finally {
    closeSync(fd);
  }
}

function tooLarge(what: string): UsageError {
  return new UsageError(
    'SANDBOX_DATA_TOO_LARGE',
    `cannot read ${what}: the --file and --bind-data contents pass ${SANDBOX_DATA_MAX >> 20} MiB together`,
    { hint: 'bind a host file with --ro-bind SRC DST instead' },
  );
}
