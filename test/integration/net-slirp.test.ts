// slirp4netns for real, on a stand-in container namespace (test/helpers/netns.ts). All traffic
// stays on this machine: the host's loopback and the test's own namespaces.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { createSocket } from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cleanup } from '../../src/sys/cleanup.js';
import {
  containerNetnsPath,
  parseNetworkOption,
  parsePublish,
  reservePorts,
  startNetwork,
  stopNetwork,
  type NetworkHandle,
} from '../../net/index.js';
import { requires } from '../helpers/host.js';
import {
  alive,
  backgroundInNs,
  fetchText,
  hostHttpServer,
  inNs,
  standIn,
  tearDown,
  tempDir,
  until,
} from '../helpers/netns.js';

let cleanup: Cleanup;
beforeAll(() => requires('userns', 'slirp4netns', 'pasta', 'tun', 'busybox'));
afterEach(async () => {
  await cleanup?.release();
  await tearDown();
});

/** A directory with index.html for busybox httpd. */
function site(body: string): string {
  const dir = tempDir();
  writeFileSync(join(dir, 'index.html'), body);
  return dir;
}

async function start(network: string, publish: string[] = []) {
  cleanup = new Cleanup();
  const { pid, holder } = await standIn();
  const ports = await reservePorts(publish.map(parsePublish));
  const info = await startNetwork(parseNetworkOption(network), { pid, ports, runDir: tempDir() }, cleanup);
  return { pid, holder, info };
}

describe('slirp4netns', () => {
  it.each(['slirp4netns', 'slirp4netns:port_handler=slirp4netns'])(
    '%s: httpd in the namespace answers on a published port',
    async (network) => {
      const { pid, info } = await start(network, ['127.0.0.1::8080']);
      expect(info).toMatchObject({ mode: 'slirp4netns', address: '10.0.2.100', resolver: '10.0.2.3' });
      expect(info.hostGateway).toBeUndefined();
      const dir = site('hello from the namespace');
      writeFileSync(join(dir, 'big.bin'), Buffer.alloc(8 << 20, 65));
      backgroundInNs(pid, 'busybox', 'httpd', '-f', '-p', '8080', '-h', dir);
      const port = info.ports[0]!.hostPort;
      expect(port).toBeGreaterThan(0);
      expect(await fetchText(`http://127.0.0.1:${port}/index.html`)).toBe('200 hello from the namespace');
      // a large answer arrives whole: the forwarder drains what it buffered before closing
      expect(await fetchText(`http://127.0.0.1:${port}/big.bin`)).toBe('200 ' + 'A'.repeat(8 << 20));
      const addr = await inNs(pid, 'busybox', 'ip', '-4', '-o', 'addr', 'show', 'tap0');
      expect(addr.stdout).toContain('10.0.2.100/24');
    },
  );

  it('reaches the host loopback through 10.0.2.2 only with allow_host_loopback=true', async () => {
    const server = await hostHttpServer('hello from the host');
    try {
      const open = await start('slirp4netns:allow_host_loopback=true');
      expect(open.info.hostGateway).toBe('10.0.2.2');
      const ok = await inNs(
        open.pid,
        'timeout',
        '10',
        'busybox',
        'wget',
        '-q',
        '-O',
        '-',
        `http://10.0.2.2:${server.port}/`,
      );
      expect(ok.stdout).toBe('hello from the host');
      await cleanup.release();

      const closed = await start('slirp4netns');
      const refused = await inNs(
        closed.pid,
        'timeout',
        '10',
        'busybox',
        'wget',
        '-q',
        '-O',
        '-',
        `http://10.0.2.2:${server.port}/`,
      );
      expect(refused.exitCode).not.toBe(0);
      expect(refused.stdout).toBe('');
    } finally {
      server.close();
    }
  });

  it('enable_ipv6=true gives the namespace an IPv6 address', async () => {
    const { pid } = await start('slirp4netns:enable_ipv6=true');
    // the address comes from slirp's router advertisement (SLAAC), after duplicate detection
    await until(
      async () => /inet6 fd00::/.test((await inNs(pid, 'busybox', 'ip', '-6', '-o', 'addr', 'show', 'tap0')).stdout),
      400,
    );
  });

  it('publishes a UDP port', async () => {
    const { pid, info } = await start('slirp4netns', ['127.0.0.1::5353/udp']);
    const echo =
      "const s=require('dgram').createSocket('udp4');s.on('message',(m,r)=>s.send('echo:'+m,r.port,r.address));s.bind(5353)";
    backgroundInNs(pid, process.execPath, '-e', echo);
    const client = createSocket('udp4');
    try {
      let reply = '';
      client.on('message', (m) => (reply = m.toString()));
      await until(() => {
        if (reply === '') client.send('ping', info.ports[0]!.hostPort, '127.0.0.1');
        return reply !== '';
      });
      expect(reply).toBe('echo:ping');
    } finally {
      client.close();
    }
  });

  it('shares one network between two processes (container:ID joins /proc/PID/ns/net)', async () => {
    const { pid, info } = await start('slirp4netns', ['127.0.0.1::8081']);
    const netns = containerNetnsPath(pid);
    const second = execa(
      'nsenter',
      [
        `--user=/proc/${pid}/ns/user`,
        `--net=${netns}`,
        '--preserve-credentials',
        '--',
        'busybox',
        'httpd',
        '-f',
        '-p',
        '8081',
        '-h',
        site('second'),
      ],
      { reject: false },
    );
    try {
      expect(await fetchText(`http://127.0.0.1:${info.ports[0]!.hostPort}/index.html`)).toBe('200 second');
    } finally {
      second.kill('SIGKILL');
      await second;
    }
    expect(() => containerNetnsPath(999_999_999)).toThrow(/not running/);
  });

  it('leaves no slirp4netns or forwarder after cleanup, also when the namespace holder was killed -9', async () => {
    const { holder, info } = await start('slirp4netns', ['127.0.0.1::8082']);
    const pids = [info.handle.slirp4netns!.pid, info.handle.forwarder!.pid];
    expect(pids.every(alive)).toBe(true);
    holder.kill('SIGKILL');
    await holder;
    await cleanup.release();
    expect(pids.filter(alive)).toEqual([]);
  });

  it.each(['slirp4netns', 'pasta'])(
    '%s and the forwarder end when the process that started them is killed -9',
    async (network) => {
      const runDir = tempDir();
      const { pid } = await standIn();
      const script = `
      const net = await import(${JSON.stringify(new URL('../../dist/net/index.js', import.meta.url).href)});
      const { Cleanup } = await import(${JSON.stringify(new URL('../../dist/src/sys/cleanup.js', import.meta.url).href)});
      const ports = await net.reservePorts([net.parsePublish('127.0.0.1::8083')]);
      const info = await net.startNetwork(net.parseNetworkOption('${network}'), { pid: ${pid}, ports, runDir: ${JSON.stringify(runDir)} }, new Cleanup());
      console.log(JSON.stringify([(info.handle.slirp4netns ?? info.handle.pasta).pid, info.handle.forwarder.pid]));`;
      const monitor = execa(process.execPath, ['--input-type=module', '-e', script], { reject: false });
      let printed = '';
      monitor.stdout!.on('data', (chunk: Buffer) => (printed += chunk.toString()));
      await until(() => printed.includes('\n'));
      const pids = JSON.parse(printed) as number[];
      expect(pids.every(alive)).toBe(true);
      monitor.kill('SIGKILL');
      await monitor;
      await until(() => !pids.some(alive));
    },
  );

  it("stopNetwork ends the processes from their recorded handle (a detached monitor's stop)", async () => {
    const { info } = await start('slirp4netns', ['127.0.0.1::8084']);
    const pids = [info.handle.slirp4netns!.pid, info.handle.forwarder!.pid];
    stopNetwork(JSON.parse(JSON.stringify(info.handle)) as NetworkHandle);
    await until(() => !pids.some(alive));
  });

  it('fails clearly when the target process is gone', async () => {
    cleanup = new Cleanup();
    const { pid, holder } = await standIn();
    holder.kill('SIGKILL');
    await holder;
    const error = await startNetwork(
      parseNetworkOption('slirp4netns'),
      { pid, ports: [], runDir: tempDir() },
      cleanup,
    ).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'NET_SLIRP_FAILED' });
    expect((error as Error).message).toMatch(new RegExp(`^cannot start slirp4netns for process ${pid}: `));
  });
});
