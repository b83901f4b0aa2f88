import { spawn } from 'node:child_process';
import { existsSync, readlinkSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { dirname, join } from 'node:path';
import { NetworkError, describeCause } from '../src/errors.js';
import type { Cleanup } from '../src/sys/cleanup.js';
import type { ReservedPort } from './ports.js';
import { supervise } from './process.js';

/**
 * hutch's own port forwarder (port_handler=rootlesskit, the default), in the manner of
 * rootlesskit's builtin driver: native/hutch-forwarder (C), entered into the container's network
 * namespace through nsenter, inherits the host sockets reserved by reservePorts and serves them
 * there. Why not slirp4netns' add_hostfwd: the bytes then cross the kernel's loopback inside the
 * namespace instead of slirp's userspace TCP (several times faster), the port stays bound from
 * reservation on (no window for another program to take it), and it works the same under pasta.
 * Why C and not Node: it stays resident as long as the container, ~1 MB against a Node
 * process's ~40 MB (issue 17). The cost: the container sees connections from 127.0.0.1, not the
 * client's address.
 */
export interface Forwarder {
  pid: number;
}

/** The forwarder's first inherited socket; fd 3 is its control pipe ("ready", and EOF: stop). */
const FIRST_SOCKET_FD = 4;

export async function startForwarder(pid: number, ports: ReservedPort[], cleanup: Cleanup): Promise<Forwarder> {
  const args = ports.map(
    (port, i) => `${port.mapping.protocol}:${FIRST_SOCKET_FD + i}:${port.mapping.containerPort}:127.0.0.1`,
  );
  let child;
  try {
    const binary = forwarderPath();
    child = spawn('nsenter', [...nsenterArgs(pid), '--', binary, ...args], {
      stdio: ['ignore', 'ignore', 'pipe', 'pipe', ...ports.map((port) => socketFd(port))],
    });
  } catch (error) {
    throw forwarderError(pid, error, '');
  }
  // The child holds its own copies now; connections wait in the backlog until it accepts them.
  for (const port of ports) port.socket.close();
  const { exited, stderrTail } = supervise(child, 'port forwarder', cleanup);
  try {
    await readyLine(child.stdio[3] as Readable, exited);
  } catch (error) {
    throw forwarderError(pid, error, stderrTail());
  }
  return { pid: child.pid! };
}

function forwarderError(pid: number, error: unknown, stderr: string): NetworkError {
  return new NetworkError(
    'NET_FORWARDER_FAILED',
    `cannot start the port forwarder in the network namespace of process ${pid}: ${describeCause(error)}${stderr ? `: ${stderr}` : ''}`,
    {
      hint: 'check that the container is still running, that nsenter (util-linux) is installed and that native/hutch-forwarder is built (`make -C native`)',
      cause: error,
    },
  );
}

/**
 * The file descriptor of a reserved socket. Node has no public accessor for it: a net.Server
 * keeps its handle in `_handle`, a dgram socket behind the symbol 'state symbol'; both handles
 * have `fd` on Linux. A Node without them gets an error, never a port that is not served.
 */
function socketFd(port: ReservedPort): number {
  const socket = port.socket as unknown as Record<string | symbol, unknown>;
  let handle: { fd?: number } | undefined;
  if ('listen' in socket) handle = socket._handle as typeof handle;
  else {
    // dgram's `_handle` is a deprecated getter (DEP0112): read its state instead.
    const state = Object.getOwnPropertySymbols(socket).find((s) => s.description === 'state symbol');
    handle = state && (socket[state] as { handle?: { fd?: number } } | undefined)?.handle;
  }
  if (typeof handle?.fd !== 'number' || handle.fd < 0)
    throw new Error(`no file descriptor for the socket of host port ${port.mapping.hostPort}`);
  return handle.fd;
}

/** native/hutch-forwarder above this file (dist/bundle, dist/net or net/). */
function forwarderPath(): string {
  for (let dir = import.meta.dirname; dir !== dirname(dir); dir = dirname(dir)) {
    const candidate = join(dir, 'native', 'hutch-forwarder');
    if (existsSync(candidate)) return candidate;
  }
  throw new Error('native/hutch-forwarder is not built');
}

/** nsenter joins the user namespace only when it is not ours already (setns refuses that). */
export function nsenterArgs(pid: number): string[] {
  const args = ['--target', String(pid), '--net', '--preserve-credentials'];
  try {
    if (readlinkSync(`/proc/${pid}/ns/user`) !== readlinkSync('/proc/self/ns/user')) args.push('--user');
  } catch (error) {
    throw new NetworkError(
      'NET_CONTAINER_GONE',
      `cannot enter the network namespace of process ${pid}: ${describeCause(error)}`,
      {
        hint: 'the container exited before its network was set up; see its log',
      },
    );
  }
  return args;
}

/** Resolves on the forwarder's "ready" line; rejects when it exits first. */
function readyLine(control: Readable, exited: Promise<number | null>): Promise<void> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (chunk: Buffer): void => {
      text += chunk.toString();
      if (!text.includes('ready\n')) return;
      control.off('data', onData);
      resolve();
    };
    control.on('data', onData);
    void exited.then((code) => {
      control.off('data', onData);
      reject(new Error(`the forwarder exited with status ${code}`));
    });
  });
}
