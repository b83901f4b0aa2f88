import { describe, expect, it } from 'vitest';
import { addressInCidr, parseNetworkOption } from '../../../net/options.js';

describe('parseNetworkOption', () => {
  it('reads slirp4netns with podman options', () => {
    expect(parseNetworkOption('slirp4netns')).toEqual({
      kind: 'slirp4netns',
      portHandler: 'rootlesskit',
      allowHostLoopback: false,
      mtu: 65520,
      cidr: '10.0.2.0/24',
      enableIPv6: false,
    });
    expect(
      parseNetworkOption(
        'slirp4netns:port_handler=slirp4netns,allow_host_loopback=true,mtu=1500,cidr=10.5.0.0/16,enable_ipv6=true,outbound_addr=192.0.2.9',
      ),
    ).toEqual({
      kind: 'slirp4netns',
      portHandler: 'slirp4netns',
      allowHostLoopback: true,
      mtu: 1500,
      cidr: '10.5.0.0/16',
      enableIPv6: true,
      outboundAddr: '192.0.2.9',
    });
  });

  it('reads pasta, none, host and container:ID', () => {
    expect(parseNetworkOption('pasta')).toEqual({ kind: 'pasta', args: [] });
    expect(parseNetworkOption('pasta:-a,10.0.0.5,--mtu,1500')).toEqual({
      kind: 'pasta',
      args: ['-a', '10.0.0.5', '--mtu', '1500'],
    });
    expect(parseNetworkOption('none')).toEqual({ kind: 'none' });
    expect(parseNetworkOption('host')).toEqual({ kind: 'host' });
    expect(parseNetworkOption('container:web')).toEqual({ kind: 'container', id: 'web' });
  });

  it('refuses malformed values with a usage error', () => {
    expect(() => parseNetworkOption('bridge')).toThrowErrorMatchingInlineSnapshot(
      `[UsageError: invalid --network bridge: unknown network mode bridge]`,
    );
    expect(() => parseNetworkOption('slirp4netns:mtu=9')).toThrowErrorMatchingInlineSnapshot(
      `[UsageError: invalid --network mtu=9: mtu is a number from 576 to 65521]`,
    );
    expect(() => parseNetworkOption('slirp4netns:port_handler=socat')).toThrow(
      /port_handler is rootlesskit or slirp4netns/,
    );
    expect(() => parseNetworkOption('slirp4netns:allow_host_loopback')).toThrow(/is not KEY=VALUE/);
    expect(() => parseNetworkOption('slirp4netns:cidr=10.0.2.0/30')).toThrow(/cidr is an IPv4 network/);
    expect(() => parseNetworkOption('slirp4netns:bogus=1')).toThrow(/unknown slirp4netns option bogus/);
    expect(() => parseNetworkOption('none:x')).toThrow(/none takes no options/);
    expect(() => parseNetworkOption('container:')).toThrow(/needs a container name or id/);
    try {
      parseNetworkOption('bridge');
    } catch (error) {
      expect(error).toMatchObject({ code: 'NET_BAD_OPTION', exitCode: 125 });
    }
  });

  it('places slirp addresses in the cidr', () => {
    expect(addressInCidr('10.0.2.0/24', 100)).toBe('10.0.2.100');
    expect(addressInCidr('10.0.2.77/24', 2)).toBe('10.0.2.2');
    expect(addressInCidr('172.16.0.0/16', 3)).toBe('172.16.0.3');
  });
});
