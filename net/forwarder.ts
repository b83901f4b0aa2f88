import { spawn, type ChildProcess } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { NetworkError, describeCause } from '../src/errors.js';
import type { Cleanup } from '../src/sys/cleanup.js';
import { entryCommand } from '../src/sys/entry-points.js';
import type { ForwardMessage } from './forwarder-child.js';
import type { ReservedPort } from './ports.js';
import { supervise } from './process.js';

/**
 * hutch's own port forwarder (port_handler=rootlesskit, the default), in the manner of
 * rootlesskit's builtin driver: one Node process entered into the container's network namespace
 * receives the host sockets reserved by reservePorts over its IPC channel and serves them there.
 * Why not slirp4netns' add_hostfwd: the bytes then cross the kernel's loopback inside the
 * namespace instead of slirp's userspace TCP (several times faster), the port stays bound from
 * reservation on (no window for another program to take it), and it works the same under pasta.
 * The cost: the container sees connections from 127.0.0.1, not the client's address.
 */
export interface Forwarder {
  pid: number;
}

export async function startForwarder(pid: number, ports: ReservedPort[], cleanup: Cleanup): Promise<Forwarder> {
  const child = spawn('nsenter', [...nsenterArgs(pid), '--', process.execPath, ...entryCommand('forwarder')], {
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    serialization: 'json',
  });
  const { exited, stderrTail } = supervise(child, 'port forwarder', cleanup);
  try {
    await nextMessage(child, 'ready', exited);
    for (const port of ports) {
      const message: ForwardMessage = {
        type: 'forward',
        protocol: port.mapping.protocol,
        containerPort: port.mapping.containerPort,
        target: '127.0.0.1',
      };
      child.send(message, port.socket as never);
      await nextMessage(child, 'forwarding', exited);
      port.socket.close(); // the child holds its own copy of the socket now
    }
  } catch (error) {
    throw new NetworkError(
      'NET_FORWARDER_FAILED',
      `cannot start the port forwarder in the network namespace of process ${pid}: ${describeCause(error)}${stderrTail() ? `: ${stderrTail()}` : ''}`,
      {
        hint: 'check that the container is still running and that nsenter (util-linux) is installed',
        cause: error,
      },
    );
  }
  return { pid: child.pid! };
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

function nextMessage(child: ChildProcess, type: string, exited: Promise<number | null>): Promise<void> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: { type?: string }): void => {
      if (message.type !== type) return;
      child.off('message', onMessage);
      resolve();
    };
    child.on('message', onMessage);
    void exited.then((code) => {
      child.off('message', onMessage);
      reject(new Error(`the forwarder exited with status ${code}`));
    });
  });
}
