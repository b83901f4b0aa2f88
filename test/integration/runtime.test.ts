// hutch runtime (runc's command line) on hand-written bundles: the status machine, hooks,
// exec, and clear errors for invalid config.json files.
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { endedOrWaiting, fullPipe } from '../helpers/full-pipe.js';
import { fdStdio, hutch, type Sandbox } from '../helpers/hutch-cli.js';
import { writeBundleConfig } from '../helpers/bundle-config.js';
import { useBundleSandbox } from '../helpers/frames.js';

let box: Sandbox;
let bundle: string;
const rt = (...args: string[]) => hutch(['runtime', '--root', join(box.dir, 'rt'), ...args]);
// A created container inherits the caller's stdio (runc's model): keep it off the captured pipes.
const rtBg = (...args: string[]) =>
  hutch(['runtime', '--root', join(box.dir, 'rt'), ...args], { stdout: 'ignore', stderr: 'ignore' });
const state = async (id: string) => JSON.parse(String((await rt('state', id)).stdout));

/** A config.json as an engine would write it, changed by `change`. */
const config = (args: string[], change?: (c: Record<string, any>) => void): void =>
  writeBundleConfig(bundle, args, change);

useBundleSandbox((b, dir) => ((box = b), (bundle = dir)));

describe('the status machine', () => {
  it('create waits for start; running; delete refused without --force; stopped after kill; delete', async () => {
    config(['sh', '-c', 'echo ran > /ran; exec sleep 1000']);
    const pidFile = join(box.dir, 'pid');
    const created = await rtBg('create', '--bundle', bundle, '--pid-file', pidFile, 'c1');
    expect(created.exitCode).toBe(0);
    const s1 = await state('c1');
    expect(s1).toMatchObject({
      ociVersion: '1.2.0',
      id: 'c1',
      status: 'created',
      bundle,
      pid: Number(readFileSync(pidFile, 'utf8')),
    });
    expect(existsSync(join(bundle, 'rootfs', 'ran'))).toBe(false); // the process has not run yet
    expect((await rt('start', 'c1')).exitCode).toBe(0);
    expect((await state('c1')).status).toBe('running');
    await until(() => existsSync(join(bundle, 'rootfs', 'ran')));
    const again = await rt('start', 'c1');
    expect(again.exitCode).toBe(125);
    expect(again.stderr).toContain('cannot start container c1: it is running');
    const exec = await rt('exec', 'c1', 'cat', '/proc/1/cmdline');
    expect(String(exec.stdout).split('\0').filter(Boolean)).toEqual(['sleep', '1000']);
    const del = await rt('delete', 'c1');
    expect(del.exitCode).toBe(125);
    expect(del.stderr).toContain('cannot delete container c1: it is running');
    expect((await rt('kill', 'c1', 'KILL')).exitCode).toBe(0);
    await until(async () => (await state('c1')).status === 'stopped');
    expect((await state('c1')).pid).toBeUndefined();
    expect((await rt('kill', 'c1')).exitCode).toBe(125);
    expect((await rt('delete', 'c1')).exitCode).toBe(0);
    expect((await rt('state', 'c1')).stderr).toContain('container c1 does not exist');
  });

  it('delete --force kills a running container; list and ps show it before', async () => {
    config(['sleep', '1000']);
    await rtBg('create', '--bundle', bundle, 'c2');
    await rt('start', 'c2');
    const list = JSON.parse(String((await rt('list', '--format', 'json')).stdout));
    expect(list).toMatchObject([{ id: 'c2', status: 'running' }]);
    expect(JSON.parse(String((await rt('ps', '--format', 'json', 'c2')).stdout))).toEqual([list[0].pid]);
    expect((await rt('delete', '--force', 'c2')).exitCode).toBe(0);
    expect((await rt('list', '-q')).stdout).toBe('');
  });

  it('run waits and exits with the status; exec --process takes a process.json', async () => {
    config(['sh', '-c', 'exit 3']);
    expect((await rt('run', '--bundle', bundle, 'c3')).exitCode).toBe(3);
    config(['sleep', '1000']);
    expect((await rtBg('run', '--detach', '--bundle', bundle, 'c4')).exitCode).toBe(0);
    writeFileSync(
      join(box.dir, 'process.json'),
      JSON.stringify({
        args: ['sh', '-c', 'echo $FOO; pwd; exit 9'],
        env: ['FOO=bar'],
        cwd: '/tmp',
        user: { uid: 0, gid: 0 },
      }),
    );
    const exec = await rt('exec', '--process', join(box.dir, 'process.json'), 'c4');
    expect([exec.stdout, exec.exitCode]).toEqual(['bar\n/tmp', 9]);
    await rt('delete', '-f', 'c4');
  });
});

describe('--preserve-fds', () => {
  it("create passes the caller's fd 3 on to the container process, which start then runs", async () => {
    config(['sh', '-c', 'cat <&3 > /got; ls /proc/self/fd > /fds']);
    writeFileSync(join(box.dir, 'passed'), 'passed on\n');
    const fd = openSync(join(box.dir, 'passed'), 'r');
    try {
      // The created container keeps the caller's stdio (runc's model): none of it captured here.
      const created = await hutch(
        ['runtime', '--root', join(box.dir, 'rt'), 'create', '--preserve-fds', '1', '--bundle', bundle, 'c1'],
        { stdio: ['ignore', 'ignore', 'ignore', fdStdio(fd)] },
      );
      expect(created.exitCode).toBe(0);
    } finally {
      closeSync(fd);
    }
    expect((await rt('start', 'c1')).exitCode).toBe(0);
    await until(
      () =>
        existsSync(join(bundle, 'rootfs', 'fds')) && readFileSync(join(bundle, 'rootfs', 'fds'), 'utf8').endsWith('\n'),
    );
    expect(readFileSync(join(bundle, 'rootfs', 'got'), 'utf8')).toBe('passed on\n');
    expect(
      readFileSync(join(bundle, 'rootfs', 'fds'), 'utf8')
        .split('\n')
        .filter(Boolean),
    ).toEqual(['0', '1', '2', '3', '4']); // 4: ls's own
    await until(async () => (await state('c1')).status === 'stopped');
    expect((await rt('delete', 'c1')).exitCode).toBe(0);
  });
});

describe('hooks', () => {
  it('get the state on stdin; a failing createRuntime hook fails create and leaves nothing', async () => {
    const out = join(box.dir, 'hooks');
    mkdirSync(out);
    const hook = (name: string) => ({ path: '/bin/sh', args: ['sh', '-c', `cat > ${out}/${name}`] });
    const inside = { path: '/bin/sh', args: ['sh', '-c', '{ cat; echo; hostname; } > /started'] }; // runs in the container
    config(['sleep', '1000'], (c) => {
      c.linux.namespaces.push({ type: 'cgroup' }); // made at start: startContainer hooks do not join it
      c.hooks = {
        createRuntime: [hook('createRuntime')],
        startContainer: [inside],
        poststart: [hook('poststart')],
        poststop: [hook('poststop')],
      };
    });
    await rtBg('create', '--bundle', bundle, 'h1');
    const created = JSON.parse(readFileSync(join(out, 'createRuntime'), 'utf8'));
    expect(created).toMatchObject({ id: 'h1', status: 'created', bundle });
    expect(created.pid).toBeGreaterThan(0);
    await rt('start', 'h1');
    const [startState, hostname] = readFileSync(join(bundle, 'rootfs', 'started'), 'utf8').split('\n');
    expect(JSON.parse(startState!)).toMatchObject({ id: 'h1', status: 'created' });
    expect(hostname).toBe('oci');
    expect(JSON.parse(readFileSync(join(out, 'poststart'), 'utf8'))).toMatchObject({
      id: 'h1',
      status: 'running',
      pid: created.pid,
    });
    await rt('delete', '--force', 'h1');
    expect(JSON.parse(readFileSync(join(out, 'poststop'), 'utf8'))).toMatchObject({ id: 'h1', status: 'stopped' });
    config(
      ['true'],
      (c) => (c.hooks = { createRuntime: [{ path: '/bin/sh', args: ['sh', '-c', 'echo no >&2; exit 4'] }] }),
    );
    const failed = await rt('create', '--bundle', bundle, 'h2');
    expect(failed.exitCode).toBe(125);
    expect(failed.stderr).toContain('createRuntime hook /bin/sh failed: exit status 4: no');
  });
});

describe('invalid bundles', () => {
  it.each([
    ['a missing root', (c: any) => delete c.root, 'root: missing: a container needs a root filesystem'],
    [
      'an unknown namespace type',
      (c: any) => c.linux.namespaces.push({ type: 'bogus' }),
      'linux.namespaces[5].type: unknown namespace type bogus',
    ],
    [
      'a malformed mapping',
      (c: any) => (c.linux.uidMappings = [{ containerID: 0, hostID: -1, size: 1 }]),
      'linux.uidMappings[0].hostID: -1 is not an id',
    ],
    ['a relative cwd', (c: any) => (c.process.cwd = 'tmp'), 'process.cwd: tmp is not an absolute path'],
    ['no process args', (c: any) => (c.process.args = []), 'process.args: empty'],
  ])('refuses %s, naming the field', async (_what, change, message) => {
    config(['true'], change);
    const r = await rt('create', '--bundle', bundle, 'bad');
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toContain(`invalid ${join(bundle, 'config.json')}: ${message}`);
    expect(r.stderr).toContain('hint: ');
  });

  it('refuses a config.json that is not JSON, and writes the error to --log as JSON', async () => {
    writeFileSync(join(bundle, 'config.json'), '{"ociVersion":');
    const log = join(box.dir, 'log.json');
    const r = await hutch([
      'runtime',
      '--log',
      log,
      '--log-format',
      'json',
      '--root',
      join(box.dir, 'rt'),
      'create',
      '--bundle',
      bundle,
      'bad',
    ]);
    expect(r.exitCode).toBe(125);
    expect(JSON.parse(readFileSync(log, 'utf8'))).toMatchObject({
      level: 'error',
      msg: expect.stringContaining('not valid JSON'),
    });
  });

  it('spec --rootless writes a bundle config that create accepts; features lists the hooks', async () => {
    const dir = join(box.dir, 'fresh');
    mkdirSync(dir);
    expect((await hutch(['runtime', 'spec', '--rootless', '--bundle', dir])).exitCode).toBe(0);
    const spec = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    expect(spec.linux.uidMappings).toEqual([{ containerID: 0, hostID: userInfo().uid, size: 1 }]);
    const features = JSON.parse(String((await rt('features')).stdout));
    expect(features.hooks).toContain('createRuntime');
    expect(features.linux.namespaces).toContain('user');
  });

  // A verb's answer waits in hutch while its stdout is full; a verb ends with process.exit
  // (outcome.ts finishVerb), which dropped it.
  it('features passes its whole answer on to a reader that reads only after hutch ended', async () => {
    const out = fullPipe();
    const child = hutch(['runtime', 'features'], { stdout: fdStdio(out.write) });
    out.spawned();
    await endedOrWaiting(new Promise((resolve) => child.once('exit', resolve)));
    const [output, result] = await Promise.all([out.readAll(), child]);
    expect(result.exitCode, String(result.stderr)).toBe(0);
    expect(JSON.parse(output.toString()).hooks).toContain('createRuntime');
  });
});

async function until(check: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('condition never became true');
}

describe('process.terminal', () => {
  it("refuses to bind the terminal through an image's /dev/console symlink (no /dev tmpfs), leaving its target as it was", async () => {
    config(['true'], (c) => {
      c.process.terminal = true;
      c.mounts = c.mounts.filter((m: { destination: string }) => m.destination !== '/dev');
      c.mounts.push({
        destination: '/dev/pts',
        type: 'devpts',
        source: 'devpts',
        options: ['newinstance', 'ptmxmode=0666'],
      });
    });
    const rootfs = join(bundle, 'rootfs');
    mkdirSync(join(rootfs, 'dev'), { recursive: true });
    writeFileSync(join(rootfs, 'target'), 'kept\n');
    mkdirSync(join(rootfs, 'dev', 'pts'), { recursive: true });
    symlinkSync('pts/ptmx', join(rootfs, 'dev', 'ptmx'));
    symlinkSync('/target', join(rootfs, 'dev', 'console'));
    // The helper fails before it sends the pty: a socket that only accepts is enough.
    const sock = join(box.dir, 'console.sock');
    const server = createServer((s) => s.on('error', () => undefined)).listen(sock);
    await new Promise((resolve) => server.once('listening', resolve));
    const r = await rt('run', '--bundle', bundle, '--console-socket', sock, 'cons');
    server.close();
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toMatch(/terminal.*(symbolic links|ELOOP)/i);
    expect(readFileSync(join(rootfs, 'target'), 'utf8')).toBe('kept\n');
    expect(readlinkSync(join(rootfs, 'dev', 'console'))).toBe('/target');
  });
});
