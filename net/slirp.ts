import { accessSync, constants, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { NetworkError, describeCause } from '../src/errors.js';
import type { Cleanup } from '../src/sys/cleanup.js';
import { spawnLight, type LightChild } from '../src/sys/spawn-light.js';
import { addressInCidr, type SlirpMode } from './options.js';
import type { PortMapping } from './ports.js';
import { findOnPath } from '../src/sys/on-path.js';
import { supervise } from './process.js';

/** A running slirp4netns: what a detached monitor records to stop it later. */
export interface SlirpProcess {
  pid: number;
  apiSocket: string;
}

/**
 * The tap device slirp4netns attaches to. The container's helper creates it persistent before
 * slirp4netns starts (TAP in docs/wire.md): slirp4netns then exits at once when stopped, instead
 * of waiting in the kernel for the device it made to be unregistered (~20 ms a run).
 */
export const SLIRP_TAP = 'tap0';

/** Fixed addresses of slirp4netns' network (offsets into --cidr). */
export function slirpAddresses(mode: SlirpMode): { address: string; gateway: string; resolver: string } {
  return {
    address: addressInCidr(mode.cidr, 100),
    gateway: addressInCidr(mode.cidr, 2),
    resolver: addressInCidr(mode.cidr, 3),
  };
}

/**
 * Starts slirp4netns on the network namespace of `pid` and resolves once it reports the tap
 * device configured (--ready-fd; no polling); `spawned` hears its pid at once. fd 3 is
 * --exit-fd: slirp4netns exits when this process dies, even by SIGKILL, since the kernel closes
 * our end of that socket.
 */
export async function startSlirp(
  mode: SlirpMode,
  pid: number,
  runDir: string,
  cleanup: Cleanup,
  spawned?: (pid: number) => void,
): Promise<SlirpProcess> {
  checkPrerequisites();
  const apiSocket = join(runDir, 'slirp4netns.sock');
  rmSync(apiSocket, { force: true });
  // posix_spawn, not node:child_process: no fork of this Node process (src/sys/spawn-light.ts).
  let child: LightChild;
  try {
    child = spawnLight('slirp4netns', [...(await slirpArgs(mode, apiSocket)), String(pid), SLIRP_TAP], {
      stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'],
    });
  } catch (error) {
    throw new NetworkError('NET_SLIRP_FAILED', `cannot start slirp4netns for process ${pid}: ${describeCause(error)}`, {
      hint: 'check that slirp4netns on PATH is executable; run with --network none to do without a network',
      cause: error,
    });
  }
  const { exited, stderrTail } = supervise(child, 'slirp4netns', cleanup, () => rmSync(apiSocket, { force: true }));
  spawned?.(child.pid);
  const ready = await waitReady(child.stdio[4] as Readable, exited);
  if (!ready) {
    throw new NetworkError(
      'NET_SLIRP_FAILED',
      `cannot start slirp4netns for process ${pid}: ${stderrTail(slirpNoise) || 'it exited before the network was ready'}`,
      {
        hint: /tun/i.test(stderrTail())
          ? 'check that /dev/net/tun exists and is usable (mode 0666)'
          : 'check that the container is still running; run with --network none to do without a network',
      },
    );
  }
  return { pid: child.pid, apiSocket };
}

/** Publishes ports through slirp4netns itself (port_handler=slirp4netns): its API's add_hostfwd. */
export async function addHostForwards(slirp: SlirpProcess, mode: SlirpMode, mappings: PortMapping[]): Promise<void> {
  for (const m of mappings) {
    if (m.hostIP.includes(':'))
      throw new NetworkError(
        'NET_SLIRP_IPV6_PUBLISH',
        `cannot publish port [${m.hostIP}]:${m.hostPort} through slirp4netns: it forwards IPv4 host addresses only`,
        { hint: 'use port_handler=rootlesskit (the default) for IPv6 host addresses' },
      );
    const reply = await slirpApi(slirp.apiSocket, {
      execute: 'add_hostfwd',
      arguments: {
        proto: m.protocol,
        host_addr: m.hostIP || '0.0.0.0',
        host_port: m.hostPort,
        guest_addr: slirpAddresses(mode).address,
        guest_port: m.containerPort,
      },
    });
    if (reply.error !== undefined) {
      throw new NetworkError(
        'NET_SLIRP_HOSTFWD',
        `cannot publish port ${m.hostIP || '0.0.0.0'}:${m.hostPort}/${m.protocol} through slirp4netns: ${reply.error.desc ?? JSON.stringify(reply.error)}`,
        {
          hint: 'the host port may have been taken since it was reserved; try again or pick another port',
        },
      );
    }
  }
}

/** One request on the slirp4netns API socket (it answers one JSON object and closes). */
export function slirpApi(apiSocket: string, request: object): Promise<{ return?: unknown; error?: { desc?: string } }> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(apiSocket);
    let text = '';
    socket.on('connect', () => socket.end(JSON.stringify(request)));
    socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
    socket.on('error', (error) =>
      reject(
        new NetworkError('NET_SLIRP_API', `cannot talk to slirp4netns at ${apiSocket}: ${describeCause(error)}`, {
          hint: 'slirp4netns has exited; restart the container',
          cause: error,
        }),
      ),
    );
    socket.on('close', () => {
      try {
        resolve(JSON.parse(text) as { return?: unknown; error?: { desc?: string } });
      } catch (error) {
        reject(
          new NetworkError(
            'NET_SLIRP_API',
            `slirp4netns at ${apiSocket} answered something that is not JSON: ${text.slice(0, 200)}`,
            { cause: error },
          ),
        );
      }
    });
  });
}

let helpText: Promise<string> | undefined;

/** slirp4netns' banner and follow-on lines, left out of error messages to leave the cause. */
const slirpNoise =
  /^(\*|Starting slirp|sent tapfd|received tapfd|WARNING)|do_slirp|parent failed|seccomp is experimental/;

/**
 * slirp4netns' own flags, read from --help (the sandbox and seccomp flags came in 0.4). Cached
 * beside the containers' network folders, keyed by the binary's identity: a `slirp4netns --help`
 * on every run would add a process spawn to every container start.
 */
async function slirpArgs(mode: SlirpMode, apiSocket: string): Promise<string[]> {
  helpText ??= cachedHelp(join(dirname(dirname(apiSocket)), 'slirp4netns-help'));
  return slirpArguments(mode, apiSocket, await helpText);
}

async function cachedHelp(cacheFile: string): Promise<string> {
  const binary = findOnPath('slirp4netns') ?? 'slirp4netns';
  let key = binary;
  try {
    const st = statSync(binary);
    key = `${binary} ${st.size} ${st.mtimeMs}`;
    const [first, ...rest] = readFileSync(cacheFile, 'utf8').split('\n');
    if (first === key) return rest.join('\n');
  } catch {
    // no cache yet, or the binary moved: ask it
  }
  const { execa } = await import('execa');
  const text = String((await execa(binary, ['--help'], { reject: false, all: true })).all ?? '');
  try {
    writeFileSync(cacheFile, `${key}\n${text}`);
  } catch {
    // a cache we cannot write costs one spawn per run, nothing more
  }
  return text;
}

/** The slirp4netns command line (before PID and tap name), given its --help text (pure). */
export function slirpArguments(mode: SlirpMode, apiSocket: string, help: string): string[] {
  const args = [
    '--configure',
    `--mtu=${mode.mtu}`,
    `--cidr=${mode.cidr}`,
    '--exit-fd=3',
    '--ready-fd=4',
    `--api-socket=${apiSocket}`,
  ];
  if (!mode.allowHostLoopback) args.push('--disable-host-loopback');
  if (mode.enableIPv6) args.push('--enable-ipv6');
  if (mode.outboundAddr !== undefined) args.push(`--outbound-addr=${mode.outboundAddr}`);
  if (help.includes('--enable-sandbox')) args.push('--enable-sandbox');
  if (help.includes('--enable-seccomp')) args.push('--enable-seccomp');
  return args;
}

function checkPrerequisites(): void {
  if (findOnPath('slirp4netns') === undefined) {
    throw new NetworkError('NET_SLIRP_MISSING', 'cannot start the network: slirp4netns is not installed', {
      hint: 'install it (Debian: apt-get install slirp4netns) or run with --network none',
    });
  }
  try {
    accessSync('/dev/net/tun', constants.R_OK | constants.W_OK);
  } catch (error) {
    throw new NetworkError(
      'NET_TUN_UNAVAILABLE',
      `cannot start slirp4netns: /dev/net/tun is not usable: ${describeCause(error)}`,
      {
        hint: 'ask the administrator to load the tun module and make /dev/net/tun mode 0666, or run with --network none',
        cause: error,
      },
    );
  }
}

/** true once slirp4netns writes to its ready fd; false if it exits first. */
function waitReady(readyFd: Readable, exited: Promise<number | null>): Promise<boolean> {
  return new Promise((resolve) => {
    readyFd.once('data', () => resolve(true));
    void exited.then(() => resolve(false));
  });
}
