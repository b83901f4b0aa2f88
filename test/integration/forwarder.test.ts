// native/hutch-forwarder on its own (issue 17: the C forwarder that replaced a resident Node
// process): run in the test's own network namespace with inherited host sockets, as
// net/forwarder.ts runs it inside a container's. Bytes both ways with the end carried after a
// drain, a refused inner port, UDP flows, the control pipe's ready line and end, bad arguments.
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { readFileSync, readlinkSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { requires } from '../helpers/host.js';

requires('userns', 'tun');

const BINARY = join(import.meta.dirname, '..', '..', 'native', 'hutch-forwarder');
const open: { close: () => unknown }[] = [];
afterEach(() => {
  for (const thing of open.splice(0)) {
    try {
      thing.close();
    } catch {
      // closed already (the host sockets, once the forwarder has them)
    }
  }
});

function fdOf(socket: Server | UdpSocket): number {
  const record = socket as unknown as Record<string | symbol, unknown>;
  if ('listen' in socket) return (record._handle as { fd: number }).fd;
  const state = Object.getOwnPropertySymbols(record).find((s) => s.description === 'state symbol')!;
  return (record[state] as { handle: { fd: number } }).handle.fd;
}

async function listening(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  open.push(server);
  return (server.address() as AddressInfo).port;
}

async function bound(socket: UdpSocket): Promise<number> {
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  open.push(socket);
  return socket.address().port;
}

/** Starts the forwarder on `hosts` (sockets with their inner ports); resolves once it is ready. */
async function forwarder(hosts: [Server | UdpSocket, string, number][], options: string[] = []): Promise<ChildProcess> {
  const args = hosts.map(([, proto, port], i) => `${proto}:${4 + i}:${port}:127.0.0.1`);
  const child = spawn(BINARY, [...options, ...args], {
    stdio: ['ignore', 'ignore', 'pipe', 'pipe', ...hosts.map(([s]) => fdOf(s))],
  });
  open.push({ close: () => child.kill('SIGKILL') });
  // As net/forwarder.ts does: the child has its copies; ours would take datagrams and connections.
  for (const [socket] of hosts) socket.close();
  const line = await new Promise<string>((resolve) =>
    (child.stdio[3] as Readable).once('data', (d) => resolve(String(d))),
  );
  expect(line).toBe('ready\n');
  return child;
}

function exchange(port: number, payload: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const client: Socket = connect(port, '127.0.0.1', () => client.end(payload));
    client.on('data', (d: Buffer) => chunks.push(d));
    client.on('end', () => resolve(Buffer.concat(chunks)));
    client.on('error', reject);
  });
}

describe('hutch-forwarder', () => {
  it('copies bytes both ways and passes the end on once drained (a 4 MB upload answered after its end)', async () => {
    // The inner server answers only after the client's end: the forwarder must carry the FIN.
    const inner = createServer((s) => {
      const got: Buffer[] = [];
      s.on('data', (d: Buffer) => got.push(d));
      s.on('end', () => s.end(Buffer.concat([Buffer.concat(got), Buffer.concat(got)])));
    });
    const innerPort = await listening(inner);
    const host = createServer();
    const hostPort = await listening(host);
    await forwarder([[host, 'tcp', innerPort]]);
    const payload = randomBytes(4 << 20);
    const answers = await Promise.all([exchange(hostPort, payload), exchange(hostPort, Buffer.from('small'))]);
    expect(answers[0]!.equals(Buffer.concat([payload, payload]))).toBe(true);
    expect(answers[1]!.toString()).toBe('smallsmall');
  });

  it('ends a client whose inner port refuses, and keeps serving', async () => {
    const closed = createServer();
    const innerPort = await listening(closed);
    closed.close(); // nothing listens there now
    const host = createServer();
    const hostPort = await listening(host);
    await forwarder([[host, 'tcp', innerPort]]);
    for (let i = 0; i < 2; i++) {
      const outcome = await exchange(hostPort, Buffer.from('x')).then(
        (data) => `end ${data.length}`,
        (error: NodeJS.ErrnoException) => error.code,
      );
      expect(['end 0', 'ECONNRESET', 'EPIPE']).toContain(outcome);
    }
  });

  it('forwards UDP datagrams through one flow per client', async () => {
    const inner = createSocket('udp4');
    inner.on('message', (m, r) => inner.send(`echo:${m}`, r.port, r.address));
    const innerPort = await bound(inner);
    const host = createSocket('udp4');
    const hostPort = await bound(host);
    await forwarder([[host, 'udp', innerPort]]);
    const client = createSocket('udp4');
    open.push(client);
    const replies: string[] = [];
    const two = new Promise<void>((resolve) => client.on('message', (m) => replies.push(String(m)) === 2 && resolve()));
    client.send('one', hostPort, '127.0.0.1');
    client.send('two', hostPort, '127.0.0.1');
    await two;
    expect(replies.sort()).toEqual(['echo:one', 'echo:two']);
  });

  it('exits when hutch closes its control pipe', async () => {
    const host = createServer();
    await listening(host);
    const child = await forwarder([[host, 'tcp', 80]]);
    const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    (child.stdio[3] as Readable).destroy();
    expect(await exited).toBe(0);
  });

  it('refuses a bad argument, naming it', async () => {
    const child = spawn(BINARY, ['sctp:4:80:127.0.0.1'], { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += String(d)));
    // 'close', not 'exit': 'exit' may come before the last of stderr has been read.
    const code = await new Promise((resolve) => child.once('close', resolve));
    expect(code).toBe(2);
    expect(stderr).toContain('bad argument sctp:4:80:127.0.0.1');
  });

  it('refuses --tap without --userns, and an unknown option', async () => {
    for (const [args, text] of [
      [['--tap=tap0', 'tcp:4:80:127.0.0.1'], '--tap needs --userns'],
      [['--bogus'], 'unknown option --bogus'],
    ] as const) {
      const child = spawn(BINARY, args, { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => (stderr += String(d)));
      expect(await new Promise((resolve) => child.once('close', resolve))).toBe(2);
      expect(stderr).toContain(text);
    }
  });
});

// --userns (issue 17): the forwarder makes the container's network namespace itself, in a user
// namespace hutch owns (the union holder's; here one of `unshare`'s), before the container exists.
describe('hutch-forwarder --userns', () => {
  /** A process in a new user namespace of this user (root mapped to it), ended after the test. */
  function userns(): string {
    const holder = spawn('unshare', ['--user', '--map-root-user', 'sleep', '1000'], { stdio: 'ignore' });
    open.push({ close: () => holder.kill('SIGKILL') });
    const path = `/proc/${holder.pid}/ns/user`;
    for (let i = 0; i < 500 && readlinkSync(path) === readlinkSync('/proc/self/ns/user'); i++)
      execFileSync('sleep', ['0.01']);
    return path;
  }

  /** Runs `args` inside the forwarder's namespaces (as hutch's helper and slirp4netns enter them). */
  function inside(pid: number, args: string[]): string {
    return execFileSync('nsenter', ['--target', String(pid), '--user', '--net', '--preserve-credentials', ...args], {
      encoding: 'utf8',
    });
  }

  it('makes a network namespace owned by that user namespace, with lo up and the tap, and no capability left', async () => {
    const ns = userns();
    const child = await forwarder([], [`--userns=${ns}`, '--tap=tap0']);
    const pid = child.pid!;
    expect(readlinkSync(`/proc/${pid}/ns/net`)).not.toBe(readlinkSync('/proc/self/ns/net'));
    expect(readlinkSync(`/proc/${pid}/ns/user`)).toBe(readlinkSync(ns));
    const links = inside(pid, ['ip', '-o', 'link']);
    expect(links).toMatch(/^1: lo: <LOOPBACK,UP,LOWER_UP>/m);
    expect(links).toMatch(/^2: tap0: /m);
    expect(readFileSync(`/proc/${pid}/status`, 'utf8')).toMatch(/^CapEff:\s+0+$/m);
    expect(readFileSync(`/proc/${pid}/status`, 'utf8')).toMatch(/^NoNewPrivs:\s+1$/m);
  });

  it('serves a host port to a server inside the namespace it made', async () => {
    const host = createServer();
    const hostPort = await listening(host);
    const child = await forwarder([[host, 'tcp', 8080]], [`--userns=${userns()}`]);
    const server = spawn(
      'nsenter',
      [
        ...['--target', String(child.pid), '--user', '--net', '--preserve-credentials'],
        ...[
          process.execPath,
          '-e',
          "require('net').createServer((s) => s.end('inside\\n')).listen(8080, '127.0.0.1', () => console.log('up'))",
        ],
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    open.push({ close: () => server.kill('SIGKILL') });
    await new Promise((resolve) => server.stdout!.once('data', resolve));
    expect((await exchange(hostPort, Buffer.from('x'))).toString()).toBe('inside\n');
  });

  it('fails naming the step when the user namespace cannot be joined', async () => {
    const child = spawn(BINARY, ['--userns=/nonexistent/ns/user'], { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += String(d)));
    expect(await new Promise((resolve) => child.once('close', resolve))).toBe(1);
    expect(stderr).toBe('hutch-forwarder: open the user namespace: No such file or directory\n');
  });
});
