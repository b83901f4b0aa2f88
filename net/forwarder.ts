import { existsSync, readlinkSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { dirname, join } from 'node:path';
import { NetworkError, describeCause } from '../src/errors.js';
import type { Cleanup } from '../src/sys/cleanup.js';
import { spawnLight, type LightStdio } from '../src/sys/spawn-light.js';
import type { ReservedPort } from './ports.js';
import { supervise } from './process.js';

/**
 * hutch's own port forwarder (port_handler=rootlesskit, the default), in the manner of
 * rootlesskit's builtin driver: native/hutch-forwarder (C), in the container's network namespace
 * (entered through nsenter, or made by the forwarder itself before the container exists),
 * inherits the host sockets reserved by reservePorts and serves them there. Why not slirp4netns' add_hostfwd: the bytes then cross the kernel's loopback inside the
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

/**
 * Where the forwarder serves: entered into the network namespace of process `pid` (nsenter), or
 * in a network namespace it makes itself in the user namespace `userns` (with the tap device
 * `tap` in it, for slirp4netns), before the container exists: the container then joins it.
 */
export type ForwarderPlace = { pid: number } | { userns: string; tap?: string };

/** A forwarder spawned: its pid at once, its namespace made and its sockets served once `ready`. */
export interface SpawnedForwarder extends Forwarder {
  ready: Promise<void>;
  /** Ends it (its control pipe closed): for one that serves no port and only held its namespace. */
  release(): void;
}

export async function startForwarder(pid: number, ports: ReservedPort[], cleanup: Cleanup): Promise<Forwarder> {
  const forwarder = spawnForwarder({ pid }, ports, cleanup);
  await forwarder.ready;
  return { pid: forwarder.pid };
}

/**
 * Spawns the forwarder (it takes the reserved sockets over: ours are closed) and joins it to
 * `cleanup`. With `{ userns }` and no ports it is the namespace's holder alone. A failure to
 * spawn throws; one to start rejects `ready`, naming the namespace and the forwarder's stderr.
 */
export function spawnForwarder(place: ForwarderPlace, ports: ReservedPort[], cleanup: Cleanup): SpawnedForwarder {
  const args = ports.map(
    (port, i) => `${port.mapping.protocol}:${FIRST_SOCKET_FD + i}:${port.mapping.containerPort}:127.0.0.1`,
  );
  let child;
  try {
    const binary = forwarderPath();
    const stdio: LightStdio[] = ['ignore', 'ignore', 'pipe', 'pipe', ...ports.map((port) => socketFd(port))];
    // posix_spawn, not node:child_process: no fork of this Node process (src/sys/spawn-light.ts).
    child =
      'pid' in place
        ? spawnLight('nsenter', [...nsenterArgs(place.pid), '--', binary, ...args], { stdio })
        : spawnLight(binary, [`--userns=${place.userns}`, ...(place.tap ? [`--tap=${place.tap}`] : []), ...args], {
            stdio,
          });
  } catch (error) {
    throw forwarderError(place, error, '');
  }
  // The child holds its own copies now; connections wait in the backlog until it accepts them.
  for (const port of ports) port.socket.close();
  const { exited, stderrTail } = supervise(child, 'port forwarder', cleanup);
  const control = child.stdio[3]!;
  const ready = readyLine(control, exited).catch((error: unknown) => {
    throw forwarderError(place, error, stderrTail());
  });
  return { pid: child.pid, ready, release: () => control.destroy() };
}

function forwarderError(place: ForwarderPlace, error: unknown, stderr: string): NetworkError {
  const where =
    'pid' in place
      ? `the port forwarder in the network namespace of process ${place.pid}`
      : `the container's network namespace (made by the port forwarder in the user namespace ${place.userns})`;
  return new NetworkError(
    'NET_FORWARDER_FAILED',
    `cannot start ${where}: ${describeCause(error)}${stderr ? `: ${stderr}` : ''}`,
    {
      hint:
        'pid' in place
          ? 'check that the container is still running, that nsenter (util-linux) is installed and that native/hutch-forwarder is built (`make -C native`)'
          : "check that native/hutch-forwarder is built (`make -C native`) and that /dev/net/tun is usable (mode 0666); the union filesystem's holder must still run",
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
