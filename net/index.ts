/**
 * The container's network, as the launch path uses it:
 *   const mode = flags.network ? parseNetworkOption(flags.network) : defaultNetworkMode();
 *   const ports = await reservePorts(flags.publish.map(parsePublish));   // before anything runs
 *   ...namespaces exist, process not exec'd yet (hook with its pid):
 *   const info = await startNetwork(mode, { pid, ports, runDir }, cleanup);
 *   const { resolvConf, hosts } = networkEtcFiles(info, { hostname, ... });
 */
import { existsSync, mkdirSync, readlinkSync } from 'node:fs';
import { NetworkError, UsageError, describeCause } from '../src/errors.js';
import type { Cleanup } from '../src/sys/cleanup.js';
import { spawnForwarder, startForwarder, nsenterArgs } from './forwarder.js';
import { defaultSlirp, type NetworkMode, type SlirpMode } from './options.js';
import { startPasta, pastaAddresses, type PastaProcess } from './pasta.js';
import { releasePorts, type PortMapping, type ReservedPort } from './ports.js';
import { findOnPath } from '../src/sys/on-path.js';
import { stopProcess } from './process.js';
import { addHostForwards, slirpAddresses, startSlirp, SLIRP_TAP, type SlirpProcess } from './slirp.js';

export { SLIRP_TAP } from './slirp.js';

export { parseNetworkOption, type NetworkMode, type SlirpMode, type PastaMode, type PortHandler } from './options.js';
export {
  parsePublish,
  publishAllExposed,
  reservePorts,
  releasePorts,
  formatMapping,
  type PortMapping,
  type ReservedPort,
} from './ports.js';
export { networkEtcFiles, parseAddHost, type EtcOptions } from './etc.js';

/** The processes a network runs on: a detached monitor records this to stop them later. */
export interface NetworkHandle {
  slirp4netns?: SlirpProcess;
  pasta?: PastaProcess;
  forwarder?: { pid: number };
}

/** What the container's network is, once started. */
export interface NetworkInfo {
  mode: NetworkMode['kind'];
  /** The container's IPv4 address (slirp4netns: 10.0.2.100). */
  address?: string;
  gateway?: string;
  /** The network's own DNS forwarder (slirp4netns: 10.0.2.3). */
  resolver?: string;
  /** The address that reaches the host's loopback (host.containers.internal), when allowed. */
  hostGateway?: string;
  /** Published ports with the actual host ports (those asked as 0 included). */
  ports: PortMapping[];
  handle: NetworkHandle;
  /** Things the user should know (published ports dropped under host/none/container networks). */
  notices: string[];
}

export interface StartOptions {
  /** A process of the container, its namespaces made, not yet exec'd. */
  pid: number;
  /** From reservePorts; startNetwork takes them over (they are closed on failure or cleanup). */
  ports: ReservedPort[];
  /** A private directory for sockets and pid files ($XDG_RUNTIME_DIR/hutch/<id>). */
  runDir: string;
}

/** slirp4netns when it is installed, else none with a one-line notice on stderr. */
export function defaultNetworkMode(
  notice: (line: string) => void = (line) => process.stderr.write(line + '\n'),
): NetworkMode {
  if (findOnPath('slirp4netns') !== undefined) return { ...defaultSlirp };
  notice('hutch: slirp4netns is not installed: the container gets no network (--network none)');
  return { kind: 'none' };
}

/** The network namespace file to join for `--network container:ID`, given that container's pid. */
export function containerNetnsPath(pid: number): string {
  const path = `/proc/${pid}/ns/net`;
  if (!existsSync(path)) {
    throw new NetworkError('NET_CONTAINER_GONE', `cannot join the network of process ${pid}: it is not running`, {
      hint: 'start the container whose network you join first',
    });
  }
  return path;
}

/**
 * Starts the network of a container whose namespaces exist (pid): slirp4netns or pasta, then the
 * published ports. Everything started joins `cleanup`; a failure releases nothing itself (the
 * caller's cleanup does) but always closes the reserved ports it was given.
 */
export async function startNetwork(mode: NetworkMode, options: StartOptions, cleanup: Cleanup): Promise<NetworkInfo> {
  cleanup.add('published host ports', () => releasePorts(options.ports));
  mkdirSync(options.runDir, { recursive: true, mode: 0o700 });
  const ports = options.ports.map((p) => p.mapping);
  switch (mode.kind) {
    case 'host':
    case 'container':
      return {
        mode: mode.kind,
        ports: [],
        handle: {},
        notices: ports.length ? [`published ports are ignored with --network ${mode.kind}`] : [],
      };
    case 'none':
      if (ports.length)
        throw new UsageError('NET_PUBLISH_WITHOUT_NETWORK', 'cannot publish ports with --network none', {
          hint: 'drop -p/-P, or use --network slirp4netns or pasta',
        });
      await loopbackUp(options.pid);
      return { mode: 'none', ports: [], handle: {}, notices: [] };
    case 'slirp4netns': {
      // The forwarder needs only the namespace, not slirp's interface: start both at once.
      const ownForwarder = mode.portHandler === 'rootlesskit' && ports.length > 0;
      const [slirp, forwarder] = await Promise.all([
        startSlirp(mode, options.pid, options.runDir, cleanup),
        ownForwarder ? startForwarder(options.pid, options.ports, cleanup) : undefined,
      ]);
      return slirpNetwork(mode, slirp, forwarder, options.ports);
    }
    case 'pasta': {
      const [pasta, forwarder] = await Promise.all([
        startPasta(mode, options.pid, options.runDir, cleanup),
        ports.length ? startForwarder(options.pid, options.ports, cleanup) : undefined,
      ]);
      const { address, gateway } = pastaAddresses();
      return {
        mode: mode.kind,
        address,
        gateway,
        hostGateway: gateway,
        ports,
        handle: { pasta, forwarder },
        notices: [],
      };
    }
  }
}

/** What startNetworkAhead gives at once: the namespace the container joins, then its network. */
export interface NetworkAhead {
  /** The network namespace's path for the container to join (its holder's, /proc/PID/ns/net). */
  netns: string;
  /** Settles once the namespace exists: the container may join it from then on, not before. */
  made: Promise<void>;
  /** Throws when the namespace's holder has gone since (killed): `netns` would name nothing. */
  held(): void;
  /** Settles once slirp4netns is ready on it and the published ports are served. */
  started: Promise<NetworkInfo>;
  /** Says the container has joined: a holder that serves no port then ends. */
  joined(): void;
  /** The processes running the network so far (the holder or forwarder, slirp4netns). */
  pids(): number[];
}

/**
 * slirp4netns' network started before the container exists (issue 17): the forwarder makes the
 * network namespace in the user namespace `userns` (the one the container will live in, which
 * must own it) with slirp4netns' tap, serves the published ports there, and slirp4netns starts on
 * it; the container joins `netns` once `made` settled. With no port of its own to serve the
 * forwarder only holds the namespace until `joined()`. Everything started joins `cleanup`, as
 * startNetwork's does; the reserved ports are closed whatever happens.
 */
export function startNetworkAhead(
  mode: SlirpMode,
  options: Omit<StartOptions, 'pid'> & { userns: string },
  cleanup: Cleanup,
): NetworkAhead {
  cleanup.add('published host ports', () => releasePorts(options.ports));
  mkdirSync(options.runDir, { recursive: true, mode: 0o700 });
  const ports = options.ports.map((p) => p.mapping);
  const ownForwarder = mode.portHandler === 'rootlesskit';
  const holder = spawnForwarder({ userns: options.userns, tap: SLIRP_TAP }, ownForwarder ? options.ports : [], cleanup);
  const pids = [holder.pid];
  const started = holder.ready.then(async () => {
    const slirp = await startSlirp(mode, holder.pid, options.runDir, cleanup, (pid) => pids.push(pid));
    const forwarder = ownForwarder && ports.length > 0 ? { pid: holder.pid } : undefined;
    return slirpNetwork(mode, slirp, forwarder, options.ports);
  });
  // Awaited by the launch when it gets there; one that failed first must not leave these unhandled.
  holder.ready.catch(() => undefined);
  started.catch(() => undefined);
  return {
    netns: `/proc/${holder.pid}/ns/net`,
    made: holder.ready,
    held: () => {
      // A dead holder (a zombie too) has no namespace links left; its pid reused by ours names ours.
      const link = readlinkIfPresent(`/proc/${holder.pid}/ns/net`);
      if (link === undefined || link === readlinkIfPresent('/proc/self/ns/net'))
        throw new NetworkError(
          'NET_FORWARDER_FAILED',
          `cannot start the container: the port forwarder (pid ${holder.pid}) holding its network namespace has exited`,
          { hint: 'it was killed, or failed (its message is above); run the container again' },
        );
    },
    started,
    joined: () => {
      if (!ownForwarder || ports.length === 0) holder.release();
    },
    pids: () => [...pids],
  };
}

/** Stops a network's processes from another process than the one that started them. */
/**
 * slirp4netns's network, started: its addresses and handles; with port_handler=slirp4netns the
 * ports are handed to slirp4netns itself (hutch's reservations closed just before).
 */
async function slirpNetwork(
  mode: SlirpMode,
  slirp: SlirpProcess,
  forwarder: { pid: number } | undefined,
  reserved: ReservedPort[],
): Promise<NetworkInfo> {
  const ports = reserved.map((p) => p.mapping);
  const { address, gateway, resolver } = slirpAddresses(mode);
  const info: NetworkInfo = {
    mode: mode.kind,
    address,
    gateway,
    resolver,
    ports,
    handle: { slirp4netns: slirp, ...(forwarder ? { forwarder } : {}) },
    notices: [],
  };
  if (mode.allowHostLoopback) info.hostGateway = gateway;
  if (mode.portHandler === 'slirp4netns') {
    releasePorts(reserved); // slirp4netns binds them itself: closed just before
    await addHostForwards(slirp, mode, ports);
  }
  return info;
}

export function stopNetwork(handle: NetworkHandle): void {
  // The forwarder's command line names native/hutch-forwarder.
  if (handle.forwarder) stopProcess(handle.forwarder.pid, 'forwarder');
  if (handle.slirp4netns) stopProcess(handle.slirp4netns.pid, handle.slirp4netns.apiSocket);
  if (handle.pasta) stopProcess(handle.pasta.pid, handle.pasta.pidFile);
}

function readlinkIfPresent(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}

/** A new network namespace has lo down; --network none still gets a working loopback. */
async function loopbackUp(pid: number): Promise<void> {
  const ip = findOnPath('ip') ?? ['/usr/sbin/ip', '/sbin/ip'].find((p) => existsSync(p));
  const { execa } = await import('execa'); // loaded on use: ~70 ms that other commands need not pay
  const result =
    ip === undefined
      ? undefined
      : await execa('nsenter', [...nsenterArgs(pid), '--', ip, 'link', 'set', 'lo', 'up'], { reject: false });
  if (result === undefined || result.exitCode !== 0) {
    throw new NetworkError(
      'NET_LOOPBACK',
      `cannot bring up lo in the network namespace of process ${pid}: ${result ? describeCause(result.stderr) : 'ip (iproute2) is not installed'}`,
      {
        hint: 'install iproute2 and util-linux (nsenter)',
      },
    );
  }
}

/** Whether the container needs a network namespace of its own (host shares ours, container:ID joins one). */
export function needsOwnNetns(mode: NetworkMode): boolean {
  return mode.kind !== 'host' && mode.kind !== 'container';
}

/**
 * The launch path's hook form of startNetwork: `hook(pid)` starts the network once the
 * container's namespaces exist (id maps written) and before its process is exec'd; `info()` is
 * the result afterwards.
 */
export function networkHook(
  mode: NetworkMode,
  options: Omit<StartOptions, 'pid'>,
  cleanup: Cleanup,
): { hook: (pid: number) => Promise<void>; info: () => NetworkInfo } {
  let result: NetworkInfo | undefined;
  return {
    hook: async (pid) => {
      result = await startNetwork(mode, { ...options, pid }, cleanup);
    },
    info: () => {
      if (result === undefined)
        throw new NetworkError('NET_NOT_STARTED', 'the network was asked for before it was started', {
          hint: 'this is a bug in hutch; please report it',
        });
      return result;
    },
  };
}
