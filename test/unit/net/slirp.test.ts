import { describe, expect, it } from 'vitest';
import { parseNetworkOption, type SlirpMode } from '../../../net/options.js';
import { slirpAddresses, slirpArguments } from '../../../net/slirp.js';

const mode = (value: string): SlirpMode => parseNetworkOption(value) as SlirpMode;

describe('slirpArguments', () => {
  it('disables host loopback unless asked, and sandboxes where slirp4netns can', () => {
    expect(slirpArguments(mode('slirp4netns'), '/run/x.sock', '--enable-sandbox ... --enable-seccomp')).toEqual([
      '--configure',
      '--mtu=65520',
      '--cidr=10.0.2.0/24',
      '--exit-fd=3',
      '--ready-fd=4',
      '--api-socket=/run/x.sock',
      '--disable-host-loopback',
      '--enable-sandbox',
      '--enable-seccomp',
    ]);
    expect(
      slirpArguments(mode('slirp4netns:allow_host_loopback=true,enable_ipv6=true,mtu=1500'), '/s', 'old slirp4netns'),
    ).toEqual([
      '--configure',
      '--mtu=1500',
      '--cidr=10.0.2.0/24',
      '--exit-fd=3',
      '--ready-fd=4',
      '--api-socket=/s',
      '--enable-ipv6',
    ]);
  });

  it('derives addresses from the cidr', () => {
    expect(slirpAddresses(mode('slirp4netns:cidr=10.9.0.0/16'))).toEqual({
      address: '10.9.0.100',
      gateway: '10.9.0.2',
      resolver: '10.9.0.3',
    });
  });
});
