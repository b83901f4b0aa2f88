import { writeFileSync } from 'node:fs';
import {
  defaultNetworkMode,
  formatMapping,
  needsOwnNetns,
  networkEtcFiles,
  parseNetworkOption,
  parsePublish,
  publishAllExposed,
  releasePorts,
  reservePorts,
  startNetwork,
  startNetworkAhead,
  SLIRP_TAP,
  type NetworkAhead,
  type NetworkInfo,
  type NetworkMode,
  type PortMapping,
  type ReservedPort,
} from '../../../net/index.js';
import type { Cleanup } from '../../sys/cleanup.js';
import { readTextIfPresent } from '../../sys/text.js';
import { trace } from '../../sys/trace.js';
import { recordedPorts } from './ports-view.js';
import type { ContainerHook } from '../launch/index.js';

/** The network flags of `run` and `create`, as typed. */
export interface NetworkFlags {
  networkMode?: string;
  publish: string[];
  publishAll: boolean;
  dns: string[];
  dnsSearch: string[];
  dnsOption?: string[];
  addHost: string[];
}

/** A network chosen and its host ports bound, waiting for the container's pid. */
export interface PreparedNetwork {
  mode: NetworkMode;
  /** Whether the container gets a network namespace of its own (not host). */
  ownNetns: boolean;
  /** The tap device the helper makes in that namespace before the network starts (slirp4netns). */
  tap?: string;
  /**
   * slirp4netns only (else undefined, and nothing started): makes the container's network
   * namespace now, in the user namespace `userns` the container will live in, and starts the
   * network on it (net/index.ts startNetworkAhead). The container must then join `netns` once
   * `made` settled, with no tap of its own; the hook waits for the rest. At most once.
   */
  ahead(userns: string): NetworkAhead | undefined;
  /**
   * Starts slirp4netns/pasta and the port forwarding on the container (or waits for what `ahead`
   * started), then writes its etc files.
   */
  hook(etc: { hosts: string; resolvConf: string; hostname: string }, portsFile: string): ContainerHook;
}

/**
 * Parses the flags and binds the published host ports now, so a port in use is an error before
 * anything runs. `exposed` are the image's ExposedPorts (for -P). What is started joins `cleanup`.
 */
export async function prepareNetwork(
  mode: NetworkMode,
  flags: NetworkFlags,
  exposed: string[],
  runDir: string,
  cleanup: Cleanup,
  notice: (line: string) => void,
): Promise<PreparedNetwork> {
  const mappings: PortMapping[] = [
    ...flags.publish.map(parsePublish),
    ...(flags.publishAll ? publishAllExposed(exposed) : []),
  ];
  const ports: ReservedPort[] = await reservePorts(mappings);
  cleanup.add('published host ports', () => releasePorts(ports));
  let early: NetworkAhead | undefined;
  return {
    mode,
    ownNetns: needsOwnNetns(mode),
    tap: mode.kind === 'slirp4netns' ? SLIRP_TAP : undefined,
    ahead: (userns) => {
      if (mode.kind !== 'slirp4netns' || early !== undefined) return undefined;
      trace('network ahead');
      early = startNetworkAhead(mode, { userns, ports, runDir }, cleanup);
      early.made.then(
        () => trace('netns made'),
        () => undefined,
      );
      early.started.then(
        () => trace('network ready'),
        () => undefined,
      );
      return early;
    },
    hook: (etc, portsFile) => async (pid) => {
      // none: the helper brought lo up itself (as root of the namespace, which the user may not be).
      let info: NetworkInfo;
      if (early !== undefined) {
        info = await early.started;
        early.joined(); // the container is in the namespace: its holder (with no port to serve) can go
      } else if (mode.kind === 'none' && ports.length === 0)
        info = { mode: 'none', ports: [], handle: {}, notices: [] };
      else info = await startNetwork(mode, { pid, ports, runDir }, cleanup);
      info.notices.forEach((n) => notice(`hutch: ${n}`));
      const files = networkEtcFiles(info, {
        hostname: etc.hostname,
        hostResolvConf: readTextIfPresent('/etc/resolv.conf') ?? '',
        hostHosts: readTextIfPresent('/etc/hosts') ?? '',
        dns: flags.dns,
        dnsSearch: flags.dnsSearch,
        dnsOptions: flags.dnsOption,
        addHosts: flags.addHost,
      });
      // Rewritten in place: the container already has these files bound (same inode).
      writeFileSync(etc.resolvConf, files.resolvConf);
      writeFileSync(etc.hosts, files.hosts);
      writeFileSync(portsFile, JSON.stringify(info.ports) + '\n');
    },
  };
}

/**
 * --network as given, or the default: slirp4netns when installed, else none with a notice. Without
 * root in the container's user namespace (--userns=keep-id with no subuid range) slirp4netns cannot
 * configure the network: the default is then none, said once.
 */
export function chooseNetworkMode(
  value: string | undefined,
  notice: (line: string) => void,
  rootMapped = true,
): NetworkMode {
  if (value !== undefined) return parseNetworkOption(value);
  if (!rootMapped) {
    notice(
      "hutch: no root in the container's user namespace for slirp4netns to configure its network: the container gets none (--network none)",
    );
    return { kind: 'none' };
  }
  return defaultNetworkMode(notice);
}

/** `hutch port`'s lines ("80/tcp -> 0.0.0.0:8080") from the ports file a run wrote. */
export function readPortLines(runDir: string): string[] {
  return recordedPorts(runDir).map(formatMapping);
}
