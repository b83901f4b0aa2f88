import { readFileSync } from 'node:fs';
import { FuseError } from '../src/errors.js';
import { childProcess } from '../src/sys/on-use.js';

/** A lower layer that is a squashfs image, mounted by squashfuse at `dir` before the union. */
export interface SquashLower {
  image: string;
  dir: string;
}

const POLL_MS = 10;
const LIMIT_MS = 30_000;

/**
 * Mounts each image with squashfuse in the daemon's own mount namespace (the caller is root of
 * the container's user namespace, so the files' owners are read as the container's ids). Each
 * squashfuse runs in the foreground under setpriv's parent-death signal: when the daemon ends,
 * however it ends, squashfuse is killed with it, its mount namespace has no process left, and
 * nothing stays mounted anywhere.
 */
export async function mountSquashLowers(lowers: SquashLower[]): Promise<void> {
  for (const lower of lowers) await mountOne(lower);
}

async function mountOne({ image, dir }: SquashLower): Promise<void> {
  // Loaded on use: the shared daemon's start (~3 ms of its path) never needs it.
  const { spawn } = childProcess();
  const child = spawn('setpriv', ['--pdeathsig', 'KILL', '--', 'squashfuse', '-f', '-o', 'ro', image, dir], {
    // Its stderr is the daemon's (hutch's): squashfuse's own words on a bad image come first.
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  let ended: string | undefined;
  child.on('error', (e) => (ended = `cannot start squashfuse (${e.message}; install squashfuse and util-linux)`));
  child.on('exit', (code, signal) => (ended ??= `squashfuse exited with ${signal ?? `status ${code}`}`));
  for (let waited = 0; !isMountpoint(dir); waited += POLL_MS) {
    if (ended !== undefined || waited >= LIMIT_MS) {
      child.kill('SIGKILL');
      const why = ended ?? `no mount after ${LIMIT_MS / 1000} s`;
      throw new FuseError('SQUASH_MOUNT', `cannot mount the squashfs image ${image}: ${why}`, {
        hint: 'check that the file is a squashfs (hutch squash writes one) and that squashfuse is installed',
      });
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** Is `dir` a mount point in this mount namespace (mountinfo's field 5, octal escapes undone)? */
function isMountpoint(dir: string): boolean {
  const unescape = (s: string): string =>
    s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((line) => unescape(line.split(' ')[4] ?? '') === dir);
}
