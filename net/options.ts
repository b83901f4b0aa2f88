import { UsageError } from '../src/errors.js';

/**
 * `--network` values, spelled as podman spells them (pure: no I/O here).
 * `slirp4netns[:port_handler=slirp4netns|rootlesskit,allow_host_loopback=true,mtu=65520,
 * cidr=10.0.2.0/24,enable_ipv6=true,outbound_addr=IP]`, `pasta[:ARG,ARG...]`, `none`, `host`,
 * `container:ID`.
 */
export type NetworkMode =
  SlirpMode | PastaMode | { kind: 'none' } | { kind: 'host' } | { kind: 'container'; id: string };

/**
 * Who forwards published ports. `rootlesskit`: hutch's own forwarder, a process inside the
 * container's network namespace that accepts on the host sockets hutch bound and connects to
 * 127.0.0.1:PORT inside (fast; the container sees connections from 127.0.0.1). `slirp4netns`:
 * slirp4netns' `add_hostfwd` (through slirp's userspace TCP; slower).
 */
export type PortHandler = 'rootlesskit' | 'slirp4netns';

export interface SlirpMode {
  kind: 'slirp4netns';
  portHandler: PortHandler;
  allowHostLoopback: boolean;
  mtu: number;
  cidr: string;
  enableIPv6: boolean;
  outboundAddr?: string;
}

export interface PastaMode {
  kind: 'pasta';
  /** Extra pasta arguments (`pasta:-a,10.0.0.5` gives ['-a', '10.0.0.5']), as podman passes them. */
  args: string[];
}

export const defaultSlirp: SlirpMode = {
  kind: 'slirp4netns',
  portHandler: 'rootlesskit',
  allowHostLoopback: false,
  mtu: 65520,
  cidr: '10.0.2.0/24',
  enableIPv6: false,
};

/** Parses one `--network` value. */
export function parseNetworkOption(value: string): NetworkMode {
  const colon = value.indexOf(':');
  const name = colon < 0 ? value : value.slice(0, colon);
  const rest = colon < 0 ? undefined : value.slice(colon + 1);
  switch (name) {
    case 'slirp4netns':
      return parseSlirpOptions(rest === undefined || rest === '' ? [] : rest.split(','));
    case 'pasta':
      return { kind: 'pasta', args: rest === undefined || rest === '' ? [] : rest.split(',') };
    case 'none':
    case 'host':
      if (rest !== undefined) throw badNetwork(value, `${name} takes no options`);
      return { kind: name };
    case 'container':
      if (!rest) throw badNetwork(value, 'container: needs a container name or id');
      return { kind: 'container', id: rest };
    default:
      throw badNetwork(value, `unknown network mode ${name}`);
  }
}

function parseSlirpOptions(options: string[]): SlirpMode {
  const mode: SlirpMode = { ...defaultSlirp };
  for (const option of options) {
    const [key, val, extra] = option.split('=');
    if (val === undefined || extra !== undefined)
      throw badNetwork(`slirp4netns:${options.join(',')}`, `option ${option} is not KEY=VALUE`);
    switch (key) {
      case 'port_handler':
        if (val !== 'rootlesskit' && val !== 'slirp4netns')
          throw badNetwork(option, 'port_handler is rootlesskit or slirp4netns');
        mode.portHandler = val;
        break;
      case 'allow_host_loopback':
        mode.allowHostLoopback = parseBool(option, val);
        break;
      case 'enable_ipv6':
        mode.enableIPv6 = parseBool(option, val);
        break;
      case 'mtu':
        mode.mtu = parseMtu(option, val);
        break;
      case 'cidr':
        parseCidr(val);
        mode.cidr = val;
        break;
      case 'outbound_addr':
        mode.outboundAddr = val;
        break;
      default:
        throw badNetwork(option, `unknown slirp4netns option ${key}`);
    }
  }
  return mode;
}

function parseBool(option: string, value: string): boolean {
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw badNetwork(option, 'expected true or false');
}

function parseMtu(option: string, value: string): number {
  const mtu = Number(value);
  if (!/^\d+$/.test(value) || mtu < 576 || mtu > 65521) throw badNetwork(option, 'mtu is a number from 576 to 65521');
  return mtu;
}

/** An IPv4 network as `a.b.c.d/len`; returns the network address as a number and the length. */
export function parseCidr(cidr: string): { network: number; length: number } {
  const match = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(cidr);
  const parts = match?.slice(1, 5).map(Number) ?? [];
  const length = Number(match?.[5]);
  if (!match || parts.some((p) => p > 255) || length < 8 || length > 25) {
    throw badNetwork(cidr, 'cidr is an IPv4 network such as 10.0.2.0/24, prefix 8 to 25');
  }
  const address = parts.reduce((acc, p) => acc * 256 + p, 0);
  const size = 2 ** (32 - length);
  return { network: address - (address % size), length };
}

/** The dotted form of the address `offset` past the network of `cidr` (slirp: +2 gateway, +3 dns, +100 guest). */
export function addressInCidr(cidr: string, offset: number): string {
  const value = parseCidr(cidr).network + offset;
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}

function badNetwork(value: string, why: string): UsageError {
  return new UsageError('NET_BAD_OPTION', `invalid --network ${value}: ${why}`, {
    hint: 'use slirp4netns[:OPTIONS], pasta[:OPTIONS], none, host or container:ID (see the README, "Network flags")',
  });
}
