import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { portsColumn, portsJson, recordedPorts } from '../../../src/engine/setup/ports-view.js';

const web = { hostIP: '', hostPort: 8080, containerPort: 80, protocol: 'tcp' as const, range: 1 };
const dns = { hostIP: '127.0.0.1', hostPort: 5353, containerPort: 53, protocol: 'udp' as const, range: 1 };

describe('ports view', () => {
  it('prints the PORTS column as podman does', () => {
    expect(portsColumn([web, dns])).toBe('0.0.0.0:8080->80/tcp, 127.0.0.1:5353->53/udp');
    expect(portsColumn([])).toBe('');
  });

  it("gives podman's JSON fields", () => {
    expect(portsJson([dns])).toEqual([
      { host_ip: '127.0.0.1', container_port: 53, host_port: 5353, range: 1, protocol: 'udp' },
    ]);
  });

  it('reads what a launch recorded, and nothing when it recorded nothing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ports-view-'));
    expect(recordedPorts(dir)).toEqual([]);
    writeFileSync(join(dir, 'ports.json'), JSON.stringify([web]));
    expect(recordedPorts(dir)).toEqual([web]);
  });
});
