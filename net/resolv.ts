/**
 * The generated /etc/resolv.conf and /etc/hosts of a container (pure: callers pass the host's
 * files as text). Podman's rules: the host's resolvers unless they are loopback addresses a
 * container cannot reach, in which case the network's own resolver (slirp4netns: 10.0.2.3).
 */
export interface ResolvOptions {
  /** The host's /etc/resolv.conf text. */
  hostResolvConf: string;
  /** The resolver the container's network provides (10.0.2.3 under slirp4netns), if any. */
  networkResolver?: string;
  /** --dns, --dns-search, --dns-option: replace what the host says. */
  servers?: string[];
  search?: string[];
  options?: string[];
}

export function resolvConf(opts: ResolvOptions): string {
  const host = parseResolvConf(opts.hostResolvConf);
  let servers = opts.servers?.length ? opts.servers : host.servers.filter((s) => !isLoopback(s));
  // The network's resolver stands in for loopback servers the container cannot reach, or for none.
  const standIn = servers.length === 0 || host.servers.some(isLoopback);
  if (!opts.servers?.length && opts.networkResolver !== undefined && standIn)
    servers = [opts.networkResolver, ...servers];
  const search = opts.search?.length ? opts.search : host.search;
  const options = opts.options?.length ? opts.options : host.options;
  const lines: string[] = [];
  if (search.length) lines.push(`search ${search.join(' ')}`);
  for (const server of servers) lines.push(`nameserver ${server}`);
  if (options.length) lines.push(`options ${options.join(' ')}`);
  return lines.join('\n') + '\n';
}

export interface HostsOptions {
  hostname: string;
  /** The container's address on its network, when it has one (10.0.2.100 under slirp4netns). */
  address?: string;
  /** --add-host NAME:IP entries. */
  extra?: { name: string; address: string }[];
  /** The host's address as the container sees it, named host.containers.internal. */
  hostGateway?: string;
}

export function hostsFile(opts: HostsOptions): string {
  const lines = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback'];
  for (const { name, address } of opts.extra ?? []) lines.push(`${address}\t${name}`);
  if (opts.hostGateway !== undefined) lines.push(`${opts.hostGateway}\thost.containers.internal host.docker.internal`);
  lines.push(`${opts.address ?? '127.0.1.1'}\t${opts.hostname}`);
  return lines.join('\n') + '\n';
}

function parseResolvConf(text: string): { servers: string[]; search: string[]; options: string[] } {
  const out = { servers: [] as string[], search: [] as string[], options: [] as string[] };
  for (const raw of text.split('\n')) {
    const [key, ...values] = raw
      .replace(/[#;].*/, '')
      .trim()
      .split(/\s+/);
    if (key === 'nameserver' && values[0]) out.servers.push(values[0]);
    else if ((key === 'search' || key === 'domain') && values.length) out.search = values;
    else if (key === 'options') out.options.push(...values);
  }
  return out;
}

function isLoopback(address: string): boolean {
  return address.startsWith('127.') || address === '::1';
}
