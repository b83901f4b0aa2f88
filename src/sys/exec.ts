import { readdirSync } from 'node:fs';
import { check, koffi, libcFunction } from './libc.js';

const execveFn = libcFunction('int execve(const char *path, const char **argv, const char **envp)');
const fcntlFn = libcFunction('int fcntl(int fd, int cmd, ...)');
const F_GETFD = 1;
const F_SETFD = 2;
const FD_CLOEXEC = 1;
const BEFORE_EXEC = Symbol.for('hutch.beforeExec');

/**
 * Clears close-on-exec on every fd above 2, so that the program this process execs next holds
 * what it held: pipes whose end is a signal to another process (slirp4netns' --exit-fd), sockets,
 * the log. Node opens everything close-on-exec.
 */
export function keepFdsAcrossExec(): void {
  for (const name of readdirSync('/proc/self/fd')) {
    const fd = Number(name);
    if (fd < 3) continue;
    const flags = fcntlFn(fd, F_GETFD, 'int', 0) as number;
    if (flags >= 0 && (flags & FD_CLOEXEC) !== 0) fcntlFn(fd, F_SETFD, 'int', flags & ~FD_CLOEXEC);
  }
}

/**
 * Replaces this process with `argv` (execve(2)): same pid, same children, the fds not
 * close-on-exec. Returns only by throwing SysError. Node 20 has no process.execve.
 */
export function execve(path: string, argv: string[], env: NodeJS.ProcessEnv): never {
  // The bundle loader's code cache, written at exit otherwise (src/cli/bundle-loader.cts).
  (globalThis as { [BEFORE_EXEC]?: () => void })[BEFORE_EXEC]?.();
  const envp = Object.entries(env)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${v}`);
  check('execve', execveFn(path, [...argv, null], [...envp, null]) as number, path);
  throw new Error(`execve ${path} returned ${koffi.errno()}`);
}
