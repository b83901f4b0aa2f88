import { closeSync, writeSync } from 'node:fs';
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
export function statusFds(options: Pick<SandboxOptions, 'infoFd' | 'jsonStatusFd'>): StatusFds {
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
      if (info !== undefined) write('--info-fd', info, `{\n    "child-pid": ${pid}\n}\n`, true);
      if (json !== undefined) write('--json-status-fd', json, `{ "child-pid": ${pid} }\n`, false);
    },
    ended: (exitCode) => {
      if (json !== undefined) write('--json-status-fd', json, `{ "exit-code": ${exitCode} }\n`, true);
    },
  };
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
