import { closeSync, statSync, writeSync } from 'node:fs';
import { UsageError } from '../errors.js';
import { callerFd } from './data.js';
import type { SandboxOptions } from './options.js';

/**
 * bubblewrap's --info-fd and --json-status-fd: once the command runs, the sandbox's PID 1 (hutch's
 * init, in the host's pid namespace) as `{"child-pid": N}`; --info-fd is closed then,
 * --json-status-fd gets `{"exit-code": N}` at the end and is closed. The fds stay in the front:
 * Node marks them close-on-exec, and the helper closes every fd it was not given.
 */
export interface StatusFds {
  started(pid: number): void;
  ended(exitCode: number): void;
}

/** Checks the fds are the caller's and open (before anything runs); a no-op when none was asked for. */
export function statusFds(
  options: Pick<SandboxOptions, 'infoFd' | 'jsonStatusFd' | 'unshareCgroup' | 'shareNet'>,
): StatusFds {
  const { infoFd: info, jsonStatusFd: json } = options;
  for (const [flag, fd] of [
    ['--info-fd', info],
    ['--json-status-fd', json],
  ] as const)
    if (fd !== undefined && !callerFd(fd))
      throw new UsageError('SANDBOX_DATA_FD', `cannot write ${flag} ${fd}: fd ${fd} is not open`, {
        hint: `open it for hutch, e.g. ${flag} ${fd} ${fd}> FILE`,
      });
  return {
    started: (pid) => {
      const members = [`"child-pid": ${pid}`, ...namespaceIds(pid, options)];
      if (info !== undefined) write('--info-fd', info, `{\n    ${members.join(',\n    ')}\n}\n`, true);
      if (json !== undefined) write('--json-status-fd', json, `{ ${members.join(', ')} }\n`, false);
    },
    ended: (exitCode) => {
      if (json !== undefined) write('--json-status-fd', json, `{ "exit-code": ${exitCode} }\n`, true);
    },
  };
}

/**
 * bubblewrap's "mnt-namespace": N, ... members: the inode numbers of the namespaces made for the
 * sandbox (the user namespace is not among bubblewrap's), read from /proc/PID/ns; one that cannot
 * be read (the sandbox ended already) is left out.
 */
function namespaceIds(pid: number, options: Pick<SandboxOptions, 'unshareCgroup' | 'shareNet'>): string[] {
  const names = ['cgroup', 'ipc', 'mnt', 'net', 'pid', 'uts'].filter(
    (n) => (n !== 'cgroup' || options.unshareCgroup) && (n !== 'net' || !options.shareNet),
  );
  return names.flatMap((n) => {
    try {
      return [`"${n}-namespace": ${statSync(`/proc/${pid}/ns/${n}`).ino}`];
    } catch {
      return [];
    }
  });
}

/** Writes a status line; a reader gone (EPIPE) is a warning: the command runs or ran already. */
function write(flag: string, fd: number, text: string, close: boolean): void {
  try {
    writeSync(fd, text);
  } catch (e) {
    process.stderr.write(`hutch: warning: cannot write ${flag} ${fd}: ${(e as Error).message}\n`);
  }
  if (close) closeSync(fd);
}
