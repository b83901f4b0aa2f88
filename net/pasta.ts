import { readFileSync, rmSync, watch } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { NetworkError } from '../src/errors.js';
import type { Cleanup } from '../src/sys/cleanup.js';
import { childProcess } from '../src/sys/on-use.js';
import type { PastaMode } from './options.js';
import { findOnPath } from '../src/sys/on-path.js';
import { supervise } from './process.js';

/** A running pasta: what a detached monitor records to stop it later. */
export interface PastaProcess {
  pid: number;
  pidFile: string;
}

/**
 * Starts pasta (passt's namespace mode) on the network namespace of `pid`. Debian 12's pasta
 * (2023-03-09) reads `--netns` as an optional-argument flag, so `--netns /proc/PID/ns/net` is
 * taken for a command and refused; the PID form joins /proc/PID/ns/{user,net} itself and works.
 * pasta runs in the foreground under `setpriv --pdeathsig` so that it dies with this process
 * (a daemonized pasta outlives its namespace's last process), and its --pid file, written once
 * the interface is configured, is the ready signal, waited on with inotify. Its own port
 * forwarding is off: hutch's forwarder serves the ports reserved before the start.
 */
export async function startPasta(
  mode: PastaMode,
  pid: number,
  runDir: string,
  cleanup: Cleanup,
): Promise<PastaProcess> {
  if (findOnPath('pasta') === undefined) {
    throw new NetworkError('NET_PASTA_MISSING', 'cannot start the network: pasta is not installed', {
      hint: 'install it (Debian: apt-get install passt) or use --network slirp4netns',
    });
  }
  const pidFile = join(runDir, 'pasta.pid');
  rmSync(pidFile, { force: true });
  const args = [
    '--pdeathsig',
    'TERM',
    'pasta',
    '--foreground',
    '--quiet',
    '--config-net',
    '-t',
    'none',
    '-u',
    'none',
    '-T',
    'none',
    '-U',
    'none',
  ];
  // node:child_process, not execa: loading execa would cost every container start ~50-70 ms.
  const child = childProcess().spawn('setpriv', [...args, '--pid', pidFile, ...mode.args, String(pid)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const { exited, stderrTail } = supervise(child, 'pasta', cleanup, () => rmSync(pidFile, { force: true }));
  if (!(await waitForPidFile(runDir, pidFile, exited))) {
    const why = stderrTail(/syslog/);
    throw new NetworkError(
      'NET_PASTA_FAILED',
      `cannot start pasta for process ${pid}: ${why || 'it exited before the network was ready'}`,
      {
        hint: 'check that /dev/net/tun is usable and the container still runs, or use --network slirp4netns',
      },
    );
  }
  return { pid: child.pid!, pidFile };
}

/** The addresses pasta gives the namespace: a copy of the host's (default route interface). */
export function pastaAddresses(routeTable = readFileSync('/proc/net/route', 'utf8')): {
  address?: string;
  gateway?: string;
} {
  const route = routeTable
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .find((f) => f[1] === '00000000' && f[7] === '00000000');
  if (route === undefined) return {};
  const hex = route[2]!;
  const gateway = [6, 4, 2, 0].map((i) => parseInt(hex.slice(i, i + 2), 16)).join('.');
  const address = networkInterfaces()[route[0]!]?.find((a) => a.family === 'IPv4')?.address;
  return { address, gateway };
}

function waitForPidFile(dir: string, pidFile: string, exited: Promise<number | null>): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (ok: boolean): void => {
      watcher.close();
      resolve(ok);
    };
    const check = (): void => {
      try {
        if (/^\d+\s*$/.test(readFileSync(pidFile, 'utf8'))) done(true);
      } catch {
        // not written yet
      }
    };
    const watcher = watch(dir, check);
    check();
    void exited.then(() => done(false));
  });
}
