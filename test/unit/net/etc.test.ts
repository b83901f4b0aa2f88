import { describe, expect, it } from 'vitest';
import { networkEtcFiles, parseAddHost } from '../../../net/etc.js';
import { pastaAddresses } from '../../../net/pasta.js';

const slirp = { mode: 'slirp4netns', address: '10.0.2.100', resolver: '10.0.2.3' };

describe('networkEtcFiles', () => {
  it('points slirp4netns containers at 10.0.2.3 when the host resolver is on loopback', () => {
    const files = networkEtcFiles(slirp, { hostname: 'web', hostResolvConf: 'nameserver 127.0.0.53\nsearch lan\n' });
    expect(files.resolvConf).toBe('search lan\nnameserver 10.0.2.3\n');
    expect(files.hosts).toBe('127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n10.0.2.100\tweb\n');
  });

  it('honours --dns, --dns-search, --add-host and host-gateway', () => {
    const files = networkEtcFiles(
      { ...slirp, hostGateway: '10.0.2.2' },
      {
        hostname: 'web',
        hostResolvConf: 'nameserver 192.0.2.53\n',
        dns: ['192.0.2.1'],
        dnsSearch: ['example.test'],
        addHosts: ['db:192.0.2.7', 'me:host-gateway', 'v6:[fd00::1]'],
      },
    );
    expect(files.resolvConf).toBe('search example.test\nnameserver 192.0.2.1\n');
    expect(files.hosts).toContain(
      '192.0.2.7\tdb\n10.0.2.2\tme\nfd00::1\tv6\n10.0.2.2\thost.containers.internal host.docker.internal\n',
    );
  });

  it('refuses host-gateway when the network does not reach the host', () => {
    expect(() =>
      networkEtcFiles(slirp, { hostname: 'h', hostResolvConf: '', addHosts: ['x:host-gateway'] }),
    ).toThrowErrorMatchingInlineSnapshot(
      `[NetworkError: cannot resolve --add-host x:host-gateway: this network does not reach the host]`,
    );
  });

  it('keeps the host files under --network host', () => {
    const files = networkEtcFiles(
      { mode: 'host' },
      { hostname: 'h', hostResolvConf: 'nameserver 127.0.0.53\n', hostHosts: '127.0.0.1 localhost\n' },
    );
    expect(files).toEqual({ resolvConf: 'nameserver 127.0.0.53\n', hosts: '127.0.0.1 localhost\n' });
  });

  it('parses --add-host', () => {
    expect(parseAddHost('a.b:10.0.0.1')).toEqual({ name: 'a.b', address: '10.0.0.1' });
    expect(() => parseAddHost('nocolon')).toThrow(/expected NAME:IP/);
    expect(() => parseAddHost('x:notanip')).toThrow(/expected NAME:IP/);
  });
});

describe('pastaAddresses', () => {
  it('reads the default gateway from /proc/net/route text', () => {
    const table =
      'Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\nnope0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\n';
    expect(pastaAddresses(table).gateway).toBe('192.0.2.1');
    expect(pastaAddresses('Iface\n')).toEqual({});
  });
});
