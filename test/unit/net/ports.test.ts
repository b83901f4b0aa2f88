import { describe, expect, it } from 'vitest';
import { expandMappings, formatMapping, parsePublish, publishAllExposed } from '../../../net/ports.js';

describe('parsePublish', () => {
  it('reads the docker/podman forms', () => {
    expect(parsePublish('80')).toEqual({ hostIP: '', hostPort: 0, containerPort: 80, protocol: 'tcp', range: 1 });
    expect(parsePublish('8080:80')).toEqual({
      hostIP: '',
      hostPort: 8080,
      containerPort: 80,
      protocol: 'tcp',
      range: 1,
    });
    expect(parsePublish('127.0.0.1:8080:80/udp')).toEqual({
      hostIP: '127.0.0.1',
      hostPort: 8080,
      containerPort: 80,
      protocol: 'udp',
      range: 1,
    });
    expect(parsePublish('127.0.0.1::80')).toEqual({
      hostIP: '127.0.0.1',
      hostPort: 0,
      containerPort: 80,
      protocol: 'tcp',
      range: 1,
    });
    expect(parsePublish('[::1]:8080:80')).toEqual({
      hostIP: '::1',
      hostPort: 8080,
      containerPort: 80,
      protocol: 'tcp',
      range: 1,
    });
    expect(parsePublish('8000-8002:80-82')).toEqual({
      hostIP: '',
      hostPort: 8000,
      containerPort: 80,
      protocol: 'tcp',
      range: 3,
    });
  });

  it('refuses malformed values', () => {
    expect(() => parsePublish('80/sctp')).toThrowErrorMatchingInlineSnapshot(
      `[UsageError: invalid --publish 80/sctp: protocol sctp is not tcp or udp]`,
    );
    expect(() => parsePublish('70000')).toThrow(/70000 is not a port/);
    expect(() => parsePublish('0:80')).toThrow(/0 is not a port/);
    expect(() => parsePublish('8000-8001:80-82')).toThrow(/ranges differ/);
    expect(() => parsePublish('host:80:80')).toThrow(/host is not an IP address/);
    expect(() => parsePublish('1:2:3:4')).toThrow(/expected \[HOSTIP:\]\[HOSTPORT:\]CPORT/);
    expect(() => parsePublish('x')).toThrow(/x is not a port/);
  });

  it('expands ranges and formats mappings as podman port does', () => {
    expect(expandMappings([parsePublish('127.0.0.1:9000-9001:90-91/udp')]).map(formatMapping)).toEqual([
      '127.0.0.1:9000->90/udp',
      '127.0.0.1:9001->91/udp',
    ]);
    expect(expandMappings([parsePublish('90-91')]).map((m) => m.hostPort)).toEqual([0, 0]);
    expect(formatMapping(parsePublish('[::1]:1:2'))).toBe('[::1]:1->2/tcp');
  });

  it('-P publishes every exposed port on a free host port', () => {
    expect(publishAllExposed(['80/tcp', '53/udp'])).toEqual([
      { hostIP: '', hostPort: 0, containerPort: 80, protocol: 'tcp', range: 1 },
      { hostIP: '', hostPort: 0, containerPort: 53, protocol: 'udp', range: 1 },
    ]);
  });
});
