import type { ChildProcess } from 'node:child_process';
import { FuseError } from '../src/errors.js';
import { entryCommand } from '../src/sys/entry-points.js';
import { childProcess } from '../src/sys/on-use.js';
import { umount2, MNT_DETACH } from '../src/sys/fsx.js';
import { readReadyLine } from '../src/sys/ready-line.js';

/**
 * The engine's way in: mounts a union with bin/hutch-fs's daemon as a child process. A child
 * rather than in-process: the daemon's JS thread blocks in libfuse serving requests, a crash of
 * it cannot take the monitor down (the container sees ENOTCONN, the monitor reports it and
 * unmounts), and the same daemon serves podman as mount_program.
 * Must run as root of a user namespace that owns the current mount namespace.
 */
export interface UnionSpec {
  /** Lower layers, TOP FIRST (as overlayfs's lowerdir=); indexFile: the layer's HLI1 index. */
  lowers: ({ dir: string; indexFile: string } | { dir: string; squashfs?: string })[];
  upper: string;
  work: string;
  mountpoint: string;
  /** Single-uid mode: only one uid is mapped, ownership changes go to override_stat. */
  uidMapped?: boolean;
  /** Present every entry as owned by root (fuse-overlayfs's squash_to_root). */
  squashToRoot?: boolean;
}

export interface UnionMount {
  mountpoint: string;
  pid: number;
  /** Resolves when the daemon exits: unexpectedly (crash, kill) unless unmount() was called. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Unmounts (lazily if busy) and waits for the daemon to exit; safe to call twice. */
  unmount(): Promise<void>;
}

/** The hutch-fs argument list for a spec (exported for tests of the option format). */
export function daemonArgs(spec: UnionSpec): string[] {
  const esc = (p: string): string => p.replace(/([:,\\])/g, '\\$1');
  const o = [
    `lowerdir=${spec.lowers.map((l) => esc(l.dir)).join(':')}`,
    `upperdir=${esc(spec.upper)}`,
    `workdir=${esc(spec.work)}`,
  ];
  if (spec.lowers.some((l) => 'indexFile' in l))
    o.push(`lowerindex=${spec.lowers.map((l) => ('indexFile' in l ? esc(l.indexFile) : '')).join(':')}`);
  if (spec.lowers.some((l) => 'squashfs' in l && l.squashfs !== undefined))
    o.push(`lowersquash=${spec.lowers.map((l) => ('squashfs' in l && l.squashfs ? esc(l.squashfs) : '')).join(':')}`);
  if (spec.uidMapped) o.push('overrideonly');
  if (spec.squashToRoot) o.push('squash_to_root');
  // hutch's own containers: no setuid programs or device nodes through the union (with no_new_privs).
  o.push('nosuid', 'nodev');
  return ['-f', '-o', o.join(','), spec.mountpoint];
}

export async function mountUnion(spec: UnionSpec): Promise<UnionMount> {
  const child = childProcess().spawn(process.execPath, [...entryCommand('fuseDaemon'), ...daemonArgs(spec)], {
    stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
    env: { ...process.env, HUTCH_FS_READY_FD: '3' },
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const said = await readReadyLine(child.stdio[3] as NodeJS.ReadableStream);
  if (!said.startsWith('ok')) {
    child.kill('SIGKILL');
    await exited;
    // libfuse names the precise cause on stderr ("fuse: failed to access mountpoint ...: ENOENT").
    const libfuse = stderr
      .split('\n')
      .find((l) => l.startsWith('fuse: '))
      ?.slice(6);
    throw new FuseError(
      'FUSE_MOUNT',
      `cannot mount the union at ${spec.mountpoint}: ${libfuse ?? ((said || stderr).trim() || 'the daemon exited')}`,
      {
        hint: 'check that /dev/fuse is usable (crw-rw-rw-) and that this runs inside a user and mount namespace',
      },
    );
  }
  let done: Promise<void> | undefined;
  return {
    mountpoint: spec.mountpoint,
    pid: child.pid!,
    exited,
    unmount: () => (done ??= unmountAndWait(spec.mountpoint, child, exited)),
  };
}

async function unmountAndWait(mountpoint: string, child: ChildProcess, exited: Promise<unknown>): Promise<void> {
  try {
    umount2(mountpoint);
  } catch {
    try {
      umount2(mountpoint, MNT_DETACH);
    } catch {
      // not mounted any more (the daemon died and someone unmounted): nothing to undo
    }
  }
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}
