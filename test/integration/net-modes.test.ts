// --network none, pasta, and published ports refused before anything starts.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cleanup } from '../../src/sys/cleanup.js';
import { parseNetworkOption, parsePublish, reservePorts, startNetwork } from '../../net/index.js';
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
} from '../helpers/netns.js';

let cleanup: Cleanup;
beforeAll(() => requires('userns', 'busybox'));
afterEach(async () => {
  await cleanup?.release();
  await tearDown();
});

describe('--network none', () => {
  it('has only lo, up, and cannot connect out', async () => {
    cleanup = new Cleanup();
    const server = await hostHttpServer('unreachable');
    try {
      const { pid } = await standIn();
      const info = await startNetwork(parseNetworkOption('none'), { pid, ports: [], runDir: tempDir() }, cleanup);
      expect(info).toMatchObject({ mode: 'none', ports: [] });
      const links = await inNs(pid, 'busybox', 'ip', '-o', 'link');
      expect(
        links.stdout
          .trim()
          .split('\n')
          .map((l) => l.split(':')[1]!.trim()),
      ).toEqual(['lo']);
      expect(links.stdout).toMatch(/LOOPBACK,UP/);
      for (const target of [`127.0.0.1:${server.port}`, `10.0.2.2:${server.port}`]) {
        const out = await inNs(pid, 'timeout', '10', 'busybox', 'wget', '-q', '-O', '-', `http://${target}/`);
        expect(out.exitCode).not.toBe(0);
        expect(out.stdout).toBe('');
      }
    } finally {
      server.close();
    }
  });

  it('refuses published ports', async () => {
    cleanup = new Cleanup();
    const { pid } = await standIn();
    const ports = await reservePorts([parsePublish('127.0.0.1::80')]);
    await expect(
      startNetwork(parseNetworkOption('none'), { pid, ports, runDir: tempDir() }, cleanup),
    ).rejects.toMatchObject({ code: 'NET_PUBLISH_WITHOUT_NETWORK' });
  });
});

describe('published ports', () => {
  it('a host port in use is refused before anything starts', async () => {
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    const port = (squatter.address() as AddressInfo).port;
    try {
      const error = await reservePorts([parsePublish('127.0.0.1::81'), parsePublish(`127.0.0.1:${port}:80`)]).catch(
        (e: unknown) => e,
      );
      expect(error).toMatchObject({ code: 'NET_PORT_IN_USE' });
      expect((error as Error).message).toBe(`cannot publish port 127.0.0.1:${port}/tcp: the address is already in use`);
      // the first port, reserved before the failure, was given back
      const again = await reservePorts([parsePublish('127.0.0.1::81')]);
      again.forEach((p) => p.socket.close());
    } finally {
      squatter.close();
    }
  });

  it('a range publishes consecutive ports', async () => {
    const ports = await reservePorts([parsePublish('127.0.0.1::8000-8002')]);
    try {
      expect(ports.map((p) => p.mapping.containerPort)).toEqual([8000, 8001, 8002]);
      expect(new Set(ports.map((p) => p.mapping.hostPort)).size).toBe(3);
    } finally {
      ports.forEach((p) => p.socket.close());
    }
  });
});

describe('missing tools', () => {
  it.each(['slirp4netns', 'pasta'])('%s not installed is a clear error before anything starts', async (network) => {
    cleanup = new Cleanup();
    const { pid } = await standIn();
    const saved = process.env.PATH;
    process.env.PATH = tempDir('hutch-nopath-');
    try {
      const error = (await startNetwork(
        parseNetworkOption(network),
        { pid, ports: [], runDir: tempDir() },
        cleanup,
      ).catch((e: unknown) => e)) as { message: string; hint: string };
      expect(`${error.message}\nhint: ${error.hint}`).toBe(
        network === 'pasta'
          ? 'cannot start the network: pasta is not installed\nhint: install it (Debian: apt-get install passt) or use --network slirp4netns'
          : 'cannot start the network: slirp4netns is not installed\nhint: install it (Debian: apt-get install slirp4netns) or run with --network none',
      );
    } finally {
      process.env.PATH = saved;
    }
  });
});

describe('pasta', () => {
  beforeAll(() => requires('pasta', 'tun'));

  it('httpd in the namespace answers on a published port; pasta ends at cleanup', async () => {
    cleanup = new Cleanup();
    const { pid } = await standIn();
    const ports = await reservePorts([parsePublish('127.0.0.1::8080')]);
    const info = await startNetwork(parseNetworkOption('pasta'), { pid, ports, runDir: tempDir() }, cleanup);
    expect(info.mode).toBe('pasta');
    const dir = tempDir();
    writeFileSync(join(dir, 'index.html'), 'hello through pasta');
    backgroundInNs(pid, 'busybox', 'httpd', '-f', '-p', '8080', '-h', dir);
    expect(await fetchText(`http://127.0.0.1:${info.ports[0]!.hostPort}/index.html`)).toBe('200 hello through pasta');
    const addr = await inNs(pid, 'busybox', 'ip', '-4', '-o', 'addr');
    expect(addr.stdout).toContain(info.address!);
    const pids = [info.handle.pasta!.pid, info.handle.forwarder!.pid];
    await cleanup.release();
    expect(pids.filter(alive)).toEqual([]);
  });
});
