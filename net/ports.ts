import { createServer, isIP, type Server } from 'node:net';
import type { Socket as UdpSocket } from 'node:dgram';
import { NetworkError, UsageError } from '../src/errors.js';
import { dgram } from '../src/sys/on-use.js';

/** One `-p` entry: `range` consecutive ports from hostPort (0: any free port) to containerPort. */
export interface PortMapping {
  /** '' is every address (0.0.0.0 and ::), as docker and podman treat an omitted HOSTIP. */
  hostIP: string;
  hostPort: number;
  containerPort: number;
  protocol: 'tcp' | 'udp';
  range: number;
}

/** A host port bound by hutch before the container starts, with the socket holding it. */
export interface ReservedPort {
  mapping: PortMapping & { range: 1 };
  socket: Server | UdpSocket;
}

/**
 * Parses `-p [HOSTIP:][HOSTPORT:]CPORT[/tcp|udp]`; ports may be ranges (`8000-8002:80-82`).
 * IPv6 host addresses go in brackets: `[::1]:8080:80`.
 */
export function parsePublish(value: string): PortMapping {
  const slash = value.lastIndexOf('/');
  const protocol = slash < 0 ? 'tcp' : value.slice(slash + 1);
  if (protocol !== 'tcp' && protocol !== 'udp') throw badPublish(value, `protocol ${protocol} is not tcp or udp`);
  let spec = slash < 0 ? value : value.slice(0, slash);
  let hostIP = '';
  const bracket = /^\[([^\]]+)\]:(.*)$/.exec(spec);
  if (bracket) [, hostIP, spec] = bracket as unknown as [string, string, string];
  const parts = spec.split(':');
  if (!bracket && parts.length === 3) hostIP = parts.shift()!;
  if (parts.length > 2 || (bracket && parts.length !== 2))
    throw badPublish(value, 'expected [HOSTIP:][HOSTPORT:]CPORT');
  if (hostIP !== '' && isIP(hostIP) === 0) throw badPublish(value, `${hostIP} is not an IP address`);
  const container = parseRange(value, parts[parts.length - 1]!);
  const host = parts.length === 2 && parts[0] !== '' ? parseRange(value, parts[0]!) : undefined;
  if (host !== undefined && host.count !== container.count)
    throw badPublish(value, 'host and container port ranges differ in length');
  return { hostIP, hostPort: host?.first ?? 0, containerPort: container.first, protocol, range: container.count };
}

/** `-P`: every ExposedPorts key of the image (`80/tcp`, `53/udp`, `8080`) on a free host port. */
export function publishAllExposed(exposed: string[]): PortMapping[] {
  return exposed.map((key) => parsePublish(key));
}

/** Splits ranges into single-port mappings. */
export function expandMappings(mappings: PortMapping[]): (PortMapping & { range: 1 })[] {
  return mappings.flatMap((m) =>
    Array.from({ length: m.range }, (_, i) => ({
      ...m,
      hostPort: m.hostPort === 0 ? 0 : m.hostPort + i,
      containerPort: m.containerPort + i,
      range: 1 as const,
    })),
  );
}

/** `127.0.0.1:8080->80/tcp`, as `podman port` shows a mapping. */
export function formatMapping(m: PortMapping): string {
  const host = m.hostIP === '' ? '0.0.0.0' : m.hostIP.includes(':') ? `[${m.hostIP}]` : m.hostIP;
  return `${host}:${m.hostPort}->${m.containerPort}/${m.protocol}`;
}

/**
 * Binds every published host port now, before the container exists, so a port in use fails the
 * run before anything starts, and so no other program can take the port between this check and
 * the forwarder's start (the sockets bound here are the ones the forwarder serves). Ports given as
 * 0 get a free port from the kernel; the returned mappings carry the actual numbers.
 */
export async function reservePorts(mappings: PortMapping[]): Promise<ReservedPort[]> {
  const reserved: ReservedPort[] = [];
  try {
    for (const mapping of expandMappings(mappings)) reserved.push(await reserveOne(mapping));
  } catch (error) {
    releasePorts(reserved);
    throw error;
  }
  return reserved;
}

/** Closes the sockets of reserved ports that were not handed on. */
export function releasePorts(reserved: ReservedPort[]): void {
  for (const { socket } of reserved) {
    try {
      socket.close();
    } catch {
      // already closed (handed to the forwarder, or never bound)
    }
  }
}

async function reserveOne(mapping: PortMapping & { range: 1 }): Promise<ReservedPort> {
  if (mapping.hostIP !== '') return bindOne(mapping, mapping.hostIP);
  try {
    return await bindOne(mapping, '::'); // without ipv6Only, '::' also takes IPv4, as 0.0.0.0 would
  } catch (error) {
    const code = ((error as NetworkError).cause as NodeJS.ErrnoException | undefined)?.code;
    if (code !== 'EAFNOSUPPORT' && code !== 'EADDRNOTAVAIL') throw error;
    return bindOne(mapping, '0.0.0.0'); // a host without IPv6
  }
}

async function bindOne(mapping: PortMapping & { range: 1 }, address: string): Promise<ReservedPort> {
  // Until the forwarder takes the socket, a connection is reset, as if nothing listened yet.
  const socket =
    mapping.protocol === 'tcp'
      ? createServer((early) => early.destroy())
      : dgram().createSocket({ type: isIP(address) === 6 ? 'udp6' : 'udp4' });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', (error: NodeJS.ErrnoException) => reject(portError(mapping, error)));
    const bound = (): void => resolve();
    if ('listen' in socket)
      socket.listen({ host: address, port: mapping.hostPort, exclusive: true, backlog: 511 }, bound);
    else socket.bind({ address, port: mapping.hostPort, exclusive: true }, bound);
  });
  socket.removeAllListeners('error');
  const port = 'listen' in socket ? (socket.address() as { port: number }).port : socket.address().port;
  return { mapping: { ...mapping, hostPort: port }, socket };
}

function portError(mapping: PortMapping, error: NodeJS.ErrnoException): NetworkError {
  const what = formatMapping(mapping).split('->')[0]!;
  if (error.code === 'EADDRINUSE') {
    return new NetworkError(
      'NET_PORT_IN_USE',
      `cannot publish port ${what}/${mapping.protocol}: the address is already in use`,
      {
        hint: 'stop the program using it (`ss -ltnup` shows it) or publish on another host port',
        cause: error,
      },
    );
  }
  if (error.code === 'EACCES') {
    return new NetworkError('NET_PORT_DENIED', `cannot publish port ${what}/${mapping.protocol}: permission denied`, {
      hint: 'ports below net.ipv4.ip_unprivileged_port_start need privilege: publish on a port above 1023',
      cause: error,
    });
  }
  return new NetworkError(
    'NET_PORT_BIND',
    `cannot publish port ${what}/${mapping.protocol}: ${error.code ?? error.message}`,
    {
      hint: 'check that the host address exists on this machine (`ip addr`)',
      cause: error,
    },
  );
}

function parseRange(value: string, text: string): { first: number; count: number } {
  const match = /^(\d+)(?:-(\d+))?$/.exec(text);
  const first = Number(match?.[1]);
  const last = match?.[2] === undefined ? first : Number(match[2]);
  if (!match || first < 1 || last > 65535 || last < first)
    throw badPublish(value, `${text} is not a port (1-65535) or range`);
  return { first, count: last - first + 1 };
}

function badPublish(value: string, why: string): UsageError {
  return new UsageError('NET_BAD_PUBLISH', `invalid --publish ${value}: ${why}`, {
    hint: 'use -p [HOSTIP:][HOSTPORT:]CONTAINERPORT[/tcp|udp], e.g. -p 127.0.0.1:8080:80',
  });
}
