import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatMapping, type PortMapping } from '../../../net/index.js';

/** podman's JSON form of one published port (`ps --format json` Ports). */
export interface PortView {
  host_ip: string;
  container_port: number;
  host_port: number;
  range: number;
  protocol: string;
}

/** The ports a launch recorded in the container's runtime folder (ports.json); none if it has not. */
export function recordedPorts(runDir: string): PortMapping[] {
  try {
    return JSON.parse(readFileSync(join(runDir, 'ports.json'), 'utf8')) as PortMapping[];
  } catch {
    return [];
  }
}

/** The PORTS column: `0.0.0.0:8080->80/tcp, ...` as podman prints it. */
export function portsColumn(ports: PortMapping[]): string {
  return ports.map(formatMapping).join(', ');
}

export function portsJson(ports: PortMapping[]): PortView[] {
  return ports.map((p) => ({
    host_ip: p.hostIP,
    container_port: p.containerPort,
    host_port: p.hostPort,
    range: p.range,
    protocol: p.protocol,
  }));
}
