// Helpers for the cgroup suites that run inside the VM guest (and the host's user manager):
// a child process held before exec, as `hutch run`'s launch hook holds the container.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Held {
  child: ChildProcess;
  pid: number;
  /** Lets the held process exec its command. */
  go(): void;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `bash` that waits for a line on stdin, then execs `command` (what nsexec's sync fd does). */
export function held(command: string[]): Held {
  const child = spawn('bash', ['-c', 'read -r _; exec "$@"', 'held', ...command], {
    stdio: ['pipe', 'ignore', 'inherit'],
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, pid: child.pid!, go: () => child.stdin!.end('\n'), exited };
}

/** The cgroup v2 path of a process, from /proc/PID/cgroup. */
export function cgroupOf(pid: number | 'self'): string {
  const line = readFileSync(`/proc/${pid}/cgroup`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('0::'));
  return line?.slice(3) ?? '';
}

/** The cgroup of a process, or undefined once it has exited (it may exit between any two reads). */
export function cgroupIfAlive(pid: number): string | undefined {
  try {
    return cgroupOf(pid);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

export function newId(): string {
  return randomBytes(6).toString('hex');
}

/** Polls until `check` holds (or the deadline passes); returns whether it held. */
export async function eventually(check: () => boolean, timeoutMs = 20_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await sleep(20);
  }
  return true;
}

/** The warnings a call printed, collected for asserts. */
export function collector(): { lines: string[]; warn: (line: string) => void } {
  const lines: string[] = [];
  return { lines, warn: (line) => lines.push(line) };
}
