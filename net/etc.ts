import { isIP } from 'node:net';
import { NetworkError, UsageError } from '../src/errors.js';
import { hostsFile, resolvConf } from './resolv.js';

/** What `networkEtcFiles` needs besides the network (pure: the host's files come as text). */
export interface EtcOptions {
  hostname: string;
  /** The host's /etc/resolv.conf text. */
  hostResolvConf: string;
  /** The host's /etc/hosts text (used as is under --network host). */
  hostHosts?: string;
  dns?: string[];
  dnsSearch?: string[];
  dnsOptions?: string[];
  /** --add-host values, NAME:IP (IP may be host-gateway). */
  addHosts?: string[];
}

/** The subset of NetworkInfo the files depend on. */
export interface EtcNetwork {
  mode: string;
  address?: string;
  resolver?: string;
  hostGateway?: string;
}

/**
 * The container's /etc/resolv.conf and /etc/hosts. Under slirp4netns the resolver is its DNS
 * forwarder (10.0.2.3) when the host's own servers are loopback addresses the container cannot
 * reach; host.containers.internal names the host only when host loopback is allowed.
 */
export function networkEtcFiles(net: EtcNetwork, opts: EtcOptions): { resolvConf: string; hosts: string } {
  refuseLineBreaks(opts);
  const extra = (opts.addHosts ?? []).map((value) => {
    const entry = parseAddHost(value);
    if (entry.address !== 'host-gateway') return entry;
    if (net.hostGateway === undefined) {
      throw new NetworkError(
        'NET_NO_HOST_GATEWAY',
        `cannot resolve --add-host ${value}: this network does not reach the host`,
        {
          hint: 'use --network slirp4netns:allow_host_loopback=true or pasta, or give an IP address',
        },
      );
    }
    return { name: entry.name, address: net.hostGateway };
  });
  const resolv =
    net.mode === 'host' && !opts.dns?.length && !opts.dnsSearch?.length && !opts.dnsOptions?.length
      ? opts.hostResolvConf
      : resolvConf({
          hostResolvConf: opts.hostResolvConf,
          networkResolver: net.resolver,
          servers: opts.dns,
          search: opts.dnsSearch,
          options: opts.dnsOptions,
        });
  if (net.mode === 'host' && opts.hostHosts !== undefined) {
    const lines = extra.map((e) => `${e.address}\t${e.name}`);
    return { resolvConf: resolv, hosts: [opts.hostHosts.trimEnd(), ...lines].join('\n') + '\n' };
  }
  return {
    resolvConf: resolv,
    hosts: hostsFile({ hostname: opts.hostname, address: net.address, extra, hostGateway: net.hostGateway }),
  };
}

/** `--add-host NAME:IP` (IPv6 addresses keep their colons: the name ends at the first one). */
export function parseAddHost(value: string): { name: string; address: string } {
  const colon = value.indexOf(':');
  const name = value.slice(0, colon);
  const address = value.slice(colon + 1).replace(/^\[(.*)\]$/, '$1');
  if (
    colon <= 0 ||
    !/^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(name) ||
    (address !== 'host-gateway' && isIP(address) === 0)
  ) {
    throw new UsageError('NET_BAD_ADD_HOST', `invalid --add-host ${value}: expected NAME:IP`, {
      hint: 'e.g. --add-host db.local:10.0.2.2 or --add-host myhost:host-gateway',
    });
  }
  return { name, address };
}

/**
 * Each value becomes (part of) one line of /etc/hosts or resolv.conf: a line break or NUL in a
 * flag would add lines of the caller's choosing (another nameserver, a hosts entry).
 */
function refuseLineBreaks(opts: EtcOptions): void {
  const flags: [string, string[]][] = [
    ['--hostname', [opts.hostname]],
    ['--dns', opts.dns ?? []],
    ['--dns-search', opts.dnsSearch ?? []],
    ['--dns-option', opts.dnsOptions ?? []],
    ['--add-host', opts.addHosts ?? []],
  ];
  for (const [flag, values] of flags) {
    const bad = values.find((v) => /[\r\n\0]/.test(v));
    if (bad !== undefined)
      throw new NetworkError('NET_ETC_LINE_BREAK', `invalid ${flag} ${JSON.stringify(bad)}: it holds a line break`, {
        hint: `give ${flag} a single-line value`,
      });
  }
}
