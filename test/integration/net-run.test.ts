// The network through the real `hutch run`: run -d -p with ps/port, --network container:ID,
// UDP publish, allow_host_loopback, a port in use, and no slirp4netns or forwarder left after
// rm -f or a kill -9 of the monitor. All traffic stays on 127.0.0.1 and the containers' namespaces.
import { createSocket } from 'node:dgram';
import { createServer, type AddressInfo } from 'node:net';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { requires } from '../helpers/host.js';
import { hutch, type Sandbox } from '../helpers/hutch-cli.js';
import { useImageSandbox } from '../helpers/frames.js';
import { fetchText, hostHttpServer, until } from '../helpers/netns.js';

requires('fuse', 'subuid', 'newuidmap', 'busybox', 'slirp4netns', 'tun');

let box: Sandbox;
const IMAGE = 'localhost/itest';
const cli = (verb: string, args: string[]) => hutch([verb, '--root', box.root, ...args]);
const run = (args: string[]) => cli('run', args);

useImageSandbox((b) => (box = b));

interface PsRow {
  Id: string;
  Pid: number;
  Ports: { host_ip: string; host_port: number; container_port: number; protocol: string }[];
}

/** A detached httpd publishing 80 on 127.0.0.1 (a random host port), once `ps` shows its port. */
async function detachedHttpd(extra: string[] = []): Promise<{ id: string; port: number; row: PsRow }> {
  const started = await run([
    '-d',
    '-u',
    '0',
    '-p',
    '127.0.0.1::80',
    ...extra,
    IMAGE,
    'httpd',
    '-f',
    '-p',
    '80',
    '-h',
    '/data',
  ]);
  expect(started.stderr).toBe('');
  const id = started.stdout.trim();
  let row: PsRow | undefined;
  await until(async () => {
    row = (JSON.parse((await cli('ps', ['--format', 'json'])).stdout) as PsRow[]).find((r) => r.Id === id);
    return (row?.Ports.length ?? 0) > 0;
  });
  return { id, port: row!.Ports[0]!.host_port, row: row! };
}

/** slirp4netns (its API socket is under the sandbox) and forwarders still in the container's netns. */
function networkProcesses(netns: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmd.startsWith('slirp4netns') && cmd.includes(box.root)) found.push(`${entry} ${cmd}`);
      else if (cmd.includes('forwarder') && readlinkSync(`/proc/${entry}/ns/net`) === netns)
        found.push(`${entry} ${cmd}`);
    } catch {
      // exited while we looked, or not ours
    }
  }
  return found;
}

describe('run -d -p, ps and --network container:ID', () => {
  it('httpd answers a Node client; ps shows PORTS; a second container reaches it on 127.0.0.1 through container:ID', async () => {
    const a = await detachedHttpd();
    expect(a.row.Ports[0]).toMatchObject({ host_ip: '127.0.0.1', container_port: 80, protocol: 'tcp' });
    expect((await cli('ps', [])).stdout).toContain(`127.0.0.1:${a.port}->80/tcp`);
    expect(await fetchText(`http://127.0.0.1:${a.port}/keep`)).toBe('200 keep\n');
    for (const driver of ['fuse', 'vfs']) {
      const b = await run([
        '--network',
        `container:${a.id}`,
        `--storage-driver=${driver}`,
        IMAGE,
        'sh',
        '-c',
        'wget -q -O - http://127.0.0.1:80/keep && cat /etc/hosts /etc/resolv.conf',
      ]);
      expect(b.stderr).toBe('');
      const [body, ...etc] = b.stdout.split('\n');
      expect(body).toBe('keep');
      const files = join(box.root, 'run', 'containers', a.id);
      expect(etc.join('\n')).toBe(
        readFileSync(join(files, 'hosts'), 'utf8') + readFileSync(join(files, 'resolv.conf'), 'utf8').trimEnd(),
      );
    }
    // run -d joins too: B's httpd on 81 answers A on 127.0.0.1, and through A's forwarder from the host
    const b = await run([
      '-d',
      '-u',
      '0',
      '--network',
      `container:${a.id}`,
      IMAGE,
      'httpd',
      '-f',
      '-p',
      '81',
      '-h',
      '/data',
    ]);
    expect(b.stderr).toBe('');
    await until(
      async () => (await cli('exec', [a.id, 'wget', '-q', '-O', '-', 'http://127.0.0.1:81/keep'])).stdout === 'keep',
    );
    const netns = readlinkSync(`/proc/${a.row.Pid}/ns/net`);
    expect(networkProcesses(netns).length).toBe(2); // slirp4netns and the forwarder
    expect((await cli('rm', ['-f', b.stdout.trim(), a.id])).exitCode).toBe(0);
    await until(() => networkProcesses(netns).length === 0);
  });

  it('container:ID of a container that does not run fails cleanly', async () => {
    const r = await run(['--network', 'container:nosuch', IMAGE, 'true']);
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toMatch(/^hutch: cannot join the network of container nosuch: no such container\nhint: /);
  });

  it('network ahead: the forwarder made the namespace the container is in; with port_handler=slirp4netns it ends once the container joined', async () => {
    const a = await detachedHttpd();
    const netns = readlinkSync(`/proc/${a.row.Pid}/ns/net`);
    expect(netns).not.toBe(readlinkSync('/proc/self/ns/net'));
    expect(networkProcesses(netns).join('\n')).toMatch(/hutch-forwarder --userns=/);
    const b = await detachedHttpd(['--network', 'slirp4netns:port_handler=slirp4netns']);
    expect(await fetchText(`http://127.0.0.1:${b.port}/keep`)).toBe('200 keep\n');
    const bNetns = readlinkSync(`/proc/${b.row.Pid}/ns/net`);
    // The forwarder only held b's namespace: it ends once b joined (slirp4netns serves the port).
    await until(() => networkProcesses(bNetns).every((p) => !p.includes('forwarder')));
    await cli('rm', ['-f', a.id, b.id]);
    await until(() => networkProcesses(netns).length === 0 && networkProcesses(bNetns).length === 0);
  });

  it('kill -9 of the monitor leaves no slirp4netns or forwarder', async () => {
    const a = await detachedHttpd();
    const netns = readlinkSync(`/proc/${a.row.Pid}/ns/net`);
    const inspect = JSON.parse((await cli('inspect', [a.id])).stdout) as { State: { MonitorPid: number } }[];
    const monitor = inspect[0]!.State.MonitorPid;
    expect(monitor).toBeGreaterThan(0);
    expect(networkProcesses(netns).length).toBe(2);
    process.kill(monitor, 'SIGKILL');
    await until(() => networkProcesses(netns).length === 0);
    await cli('rm', ['-f', a.id]);
    await until(
      () => !existsSync(`/proc/${a.row.Pid}`) || /^State:\s+Z/m.test(readFileSync(`/proc/${a.row.Pid}/status`, 'utf8')),
    );
  });
});

describe('publish and host loopback through run', () => {
  it('publishes a UDP port (a Node echo server bound in from the host answers a Node client)', async () => {
    // busybox has no UDP server: the host's node runs in the container from read-only binds (its
    // own folder too, when it is not under /usr: another Node release of the test run's).
    const echo =
      "const s=require('dgram').createSocket('udp4');s.on('message',(m,r)=>s.send('echo:'+m,r.port,r.address));s.bind(5353)";
    const nodeDir = dirname(process.execPath);
    const dirs = ['/usr', '/lib', '/lib64', ...(nodeDir.startsWith('/usr/') ? [] : [nodeDir])];
    const binds = dirs.filter((d) => existsSync(d)).flatMap((d) => ['-v', `${d}:${d}:ro`]);
    const started = await run([
      '-d',
      '-u',
      '0',
      '-p',
      '127.0.0.1::5353/udp',
      ...binds,
      IMAGE,
      process.execPath,
      '-e',
      echo,
    ]);
    expect(started.stderr).toBe('');
    const id = started.stdout.trim();
    const port = Number(/:(\d+)$/.exec((await cli('port', [id])).stdout.trim())?.[1]);
    const client = createSocket('udp4');
    let reply = '';
    client.on('message', (m) => (reply = m.toString()));
    try {
      await until(() => {
        client.send('ping', port, '127.0.0.1');
        return reply !== '';
      }, 400);
      expect(reply).toBe('echo:ping');
    } finally {
      client.close();
      await cli('rm', ['-f', id]);
    }
  });

  it('reaches the host loopback through 10.0.2.2 only with allow_host_loopback=true', async () => {
    const server = await hostHttpServer('from-host');
    try {
      // busybox nc, not wget (busybox-static's wget segfaults here); -w bounds a dropped connect.
      const get = ['sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 10 10.0.2.2 ${server.port}`];
      const denied = await run([IMAGE, ...get]);
      expect(denied.exitCode).not.toBe(0);
      expect(denied.stdout).toBe('');
      const allowed = await run(['--network', 'slirp4netns:allow_host_loopback=true', IMAGE, ...get]);
      expect(allowed.stdout).toMatch(/^HTTP\/1.1 200 OK\r\n[^]*\r\n\r\nfrom-host$/);
      expect(networkProcesses('')).toEqual([]); // slirp4netns ended with each foreground container
    } finally {
      server.close();
    }
  });

  it('a host port in use is refused before anything runs (exit 125, nothing left)', async () => {
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    const port = (squatter.address() as AddressInfo).port;
    try {
      for (const detach of [[], ['-d']]) {
        const r = await run([...detach, '-p', `127.0.0.1:${port}:80`, IMAGE, 'true']);
        expect(r.exitCode).toBe(125);
        expect(r.stderr).toMatch(
          new RegExp(`^hutch: cannot publish port 127.0.0.1:${port}/tcp: the address is already in use\nhint: `),
        );
      }
      expect((await cli('ps', ['-a', '-q'])).stdout).toBe('');
    } finally {
      squatter.close();
    }
  });
});
