// `hutch run IMAGE`: an image loaded into a temporary store, run on the union filesystem (default)
// and on a vfs copy, with its config applied, networking and the cgroups warning path.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { userInfo } from 'node:os';
import { get } from 'node:http';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { requires } from '../helpers/host.js';
import { hutch, untilOutput, type Sandbox } from '../helpers/hutch-cli.js';
import { expectNoContainerFolders, useImageSandbox } from '../helpers/frames.js';

requires('fuse', 'subuid', 'newuidmap', 'busybox');

let box: Sandbox;
const IMAGE = 'localhost/itest';
const run = (args: string[], env: Record<string, string> = {}) => hutch(['run', '--root', box.root, ...args], { env });
/** `sh -c SCRIPT` in the image without a network, `flags` before the image. */
const sh = (script: string, flags: string[] = []) => run(['--network', 'none', ...flags, IMAGE, 'sh', '-c', script]);

useImageSandbox((b) => (box = b));
afterEach(() => expectNoContainerFolders(box.root));

/** sha256 of every file of the unpacked layers: they must never change. */
function layerDigest(): string {
  const hash = createHash('sha256');
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const st = statSync(path, { throwIfNoEntry: false });
      if (st?.isDirectory()) walk(path);
      else if (st?.isFile()) hash.update(path).update(readFileSync(path));
    }
  };
  walk(join(box.root, 'data', 'layers'));
  return hash.digest('hex');
}

describe.each(['fuse', 'vfs'])('hutch run IMAGE (--storage-driver=%s)', (driver) => {
  it('applies the image config: Cmd, Env, WorkingDir, User', async () => {
    const r = await run(['--network', 'none', '--storage-driver', driver, IMAGE]);
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n')).toEqual(['cmd-ran', '1000', '/work', 'hello-from-image']);
    expect(r.exitCode).toBe(0);
  });

  it("--hpc runs as the caller (not the image's User) in their working directory, with their home and the host's PID namespace", async () => {
    const script = 'id -u; echo $HOME; pwd; grep -c "^$(id -un):" /etc/passwd; readlink /proc/self/ns/pid';
    const r = await hutch(['run', '--root', box.root, '--hpc', '--storage-driver', driver, IMAGE, 'sh', '-c', script], {
      cwd: box.dir,
    });
    expect(r.stderr).toBe('');
    const me = userInfo();
    expect(r.stdout.split('\n')).toEqual([String(me.uid), me.homedir, box.dir, '1', readlinkSync('/proc/self/ns/pid')]);
  });

  it('writes to the container only; a file deleted in a layer stays deleted; files belong to the user on the host', async () => {
    const layers = layerDigest();
    const out = join(box.dir, `out-${driver}`);
    mkdirSync(out, { recursive: true });
    const r = await sh(
      'ls /data; echo changed > /data/keep; rm /data/new; ls /data; cat /data/keep; echo hi > /out/f',
      ['--storage-driver', driver, '-u', '0', '-v', `${out}:/out`],
    );
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n')).toEqual(['keep', 'new', 'keep', 'changed']);
    expect(layerDigest()).toBe(layers);
    expect(statSync(join(out, 'f')).uid).toBe(process.getuid!());
  });
});

describe.each(['fuse', 'vfs'])('hutch run IMAGE (--storage-driver=%s) cleanup', (driver) => {
  it('removes files the container gave to its other users, in folders only they may enter (afterEach: no folder left)', async () => {
    const r = await sh(
      'mkdir -p /private/deep && echo x > /private/deep/f && chown -R 1000:1000 /private && chmod 0700 /private /private/deep && echo done',
      ['--storage-driver', driver, '-u', '0'],
    );
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('done');
  });
});

describe('the union filesystem', () => {
  it('keeps writes in the upper layer; rmi refuses the image while the container runs', async () => {
    const child = sh('echo up > /etc/marker; echo ready; exec sleep 60', ['--init', '-u', '0']);
    await untilOutput(child, 'ready');
    const [id] = readdirSync(join(box.root, 'data', 'ephemeral'));
    expect(readFileSync(join(box.root, 'data', 'ephemeral', id!, 'upper', 'etc', 'marker'), 'utf8')).toBe('up\n');
    const rmi = await hutch(['rmi', '--root', box.root, IMAGE]);
    expect(rmi.exitCode).toBe(125);
    expect(rmi.stderr).toContain('containers use it');
    child.kill('SIGTERM');
    expect((await child).exitCode).toBe(143);
  });

  it('runs busybox tar, find and a dd+sync over the tree', async () => {
    const r = await sh(
      'tar cf /tmp/all.tar /bin /etc /data 2>/dev/null && tar tf /tmp/all.tar | grep -c . && find / -xdev -name keep && dd if=/dev/zero of=/big bs=1M count=8 2>/dev/null && sync && wc -c < /big',
      ['-u', '0'],
    );
    expect(r.stderr).toBe('');
    const lines = r.stdout.split('\n');
    expect(Number(lines[0])).toBeGreaterThan(250);
    expect(lines.slice(1)).toEqual(['/data/keep', '8388608']);
  });

  it('ends the container and reports when the daemon is killed (kill -9)', async () => {
    const child = sh('echo ready; while test -e /etc/passwd; do sleep 0.2; done', ['-u', '0']);
    await untilOutput(child, 'ready');
    // The shared union daemon (fuse/shared.ts) of this store's runtime folder: its pid file.
    const dir = join(box.root, 'run', 'fsd');
    const daemon = readdirSync(dir)
      .filter((n) => n.endsWith('.pid'))
      .map((n) => readFileSync(join(dir, n), 'utf8').trim());
    expect(daemon).toHaveLength(1);
    expect(Number(daemon[0])).toBeGreaterThan(1); // never kill(0): that is our own process group
    process.kill(Number(daemon[0]), 'SIGKILL');
    const r = await child;
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toContain('container ended: the union filesystem daemon');
  });

  it("--entrypoint replaces the image's command; arguments after the image are the command's", async () => {
    const r = await run(['--network', 'none', '--entrypoint', '/bin/echo', IMAGE, 'hi', '-n']);
    expect(r.stdout).toBe('hi -n');
    const ls = await run(['--network', 'none', IMAGE, 'ls', '-a', '/data']);
    expect(ls.stdout.split('\n')).toEqual(['.', '..', 'keep', 'new']);
  });

  it('--pull=never fails cleanly for an image not in the store', async () => {
    const r = await run(['--pull=never', 'localhost/not-here']);
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toContain('image localhost/not-here is not in the store');
  });

  it('says how to do without FUSE for an unknown storage driver', async () => {
    const r = await run(['--storage-driver', 'zfs', IMAGE]);
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toContain('invalid --storage-driver zfs');
  });
});

it('HUTCH_TRACE: the CLI and the union daemon write their steps (docs/startup.md)', async () => {
  const file = join(box.dir, 'trace');
  const r = await run(['--network', 'none', IMAGE, 'true'], { HUTCH_TRACE: file });
  expect(r.stderr).toBe('');
  const steps = new Map<string, string[]>();
  for (const [, pid, ...step] of readFileSync(file, 'utf8')
    .trimEnd()
    .split('\n')
    .map((l) => l.split(' ')))
    steps.set(pid!, [...(steps.get(pid!) ?? []), step.join(' ')]);
  const cli = [...steps.values()].find((s) => s.includes('cli main'))!;
  const order = [
    'cli main',
    'preheld shared', // the shared daemon (started unless it runs), then its C holder: before the parse
    'preheld spawn',
    'cli parsed',
    'blueprint',
    'preheld taken',
    'union mounted',
    'exited',
  ];
  expect(cli.filter((s) => order.includes(s))).toEqual(order);
  expect(cli).toContain('load cli');
  // The shared daemon traces into the file of the run that started it: this one, unless the
  // daemon of an earlier test had not left yet.
  const daemon = [...steps.values()].find((s) => s.includes('fs shared listening'));
  if (cli.includes('shared started'))
    expect(daemon?.filter((s) => s !== 'start').slice(0, 4)).toEqual([
      'load fuseDaemon',
      'compiled',
      'fs shared listening',
      'fs shared session', // then 'fs shared exit', once the run's container is gone
    ]);
});

describe('networking and resources through run', () => {
  it('publishes a port: busybox httpd answers a client on the host', async () => {
    requires('slirp4netns', 'tun');
    const child = run(['--init', '-u', '0', '-p', '127.0.0.1::80', IMAGE, 'httpd', '-f', '-p', '80', '-h', '/data']);
    expect(await served(await publishedPort(), '/keep')).toBe('keep\n');
    child.kill('SIGTERM');
    await child;
  });

  it('run -d gets the same setup: the union filesystem, -P from ExposedPorts, hutch port; rm leaves nothing', async () => {
    requires('slirp4netns', 'tun');
    const started = await run(['-d', '-u', '0', '-P', IMAGE, 'httpd', '-f', '-p', '80', '-h', '/data']);
    expect(started.stderr).toBe('');
    const id = started.stdout.trim();
    expect(await served(await publishedPort(true), '/new')).toBe('layer2\n');
    const mounts = await hutch(['exec', '--root', box.root, id, 'cat', '/proc/mounts']);
    expect(mounts.stdout).toMatch(/^hutch-fs \/ fuse\.hutch-fs /m);
    expect((await hutch(['rm', '-f', '--root', box.root, id])).exitCode).toBe(0);
    expect(
      readdirSync(join(box.root, 'data', 'image-users')).flatMap((d) =>
        readdirSync(join(box.root, 'data', 'image-users', d)),
      ),
    ).toEqual([]);
  });

  it('--network none has only loopback', async () => {
    const r = await sh('ls /sys/class/net');
    expect(r.stdout.trim()).toBe('lo');
  });

  it('warns that limits are not enforced on this host; --cgroups=required fails cleanly', async () => {
    const warned = await run(['--network', 'none', '--memory', '64m', IMAGE, 'true']);
    expect(warned.exitCode).toBe(0);
    expect(warned.stderr).toMatch(/^hutch: warning: not enforced: --memory: /);
    const required = await run(['--network', 'none', '--memory', '64m', '--cgroups=required', IMAGE, 'true']);
    expect(required.exitCode).toBe(125);
    expect(required.stderr).toMatch(/^hutch: /);
    const info = await hutch(['system', 'info']);
    expect(info.stdout).toMatch(/^(ok {2}|MISS) cgroups: v[12]/m); // from the cgroups module's report
    const json = JSON.parse((await hutch(['system', 'info', '--format', 'json'])).stdout) as {
      cgroups: { version: string; delegatedControllers: string[] };
    };
    expect(json.cgroups.version).toMatch(/^v[12]$/);
    expect(Array.isArray(json.cgroups.delegatedControllers)).toBe(true);
  });
});

/** The host port of the running container's published port 80 (`hutch port`). */
async function publishedPort(detached = false): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const dir = join(box.root, 'run', detached ? 'containers' : 'ephemeral');
    const ids = existsSync(dir) ? readdirSync(dir).filter((n) => !n.startsWith('.')) : [];
    if (ids.length === 1 && existsSync(join(dir, ids[0]!, 'ports.json'))) {
      const r = await hutch(['port', '--root', box.root, ids[0]!]);
      const m = /80\/tcp -> (?:127\.0\.0\.1|0\.0\.0\.0):(\d+)/.exec(r.stdout);
      if (m) return Number(m[1]);
    }
    await sleep(50);
  }
  throw new Error('the container never published its port');
}

/** What busybox httpd serves at `path` once it answers (it starts after the port is published). */
async function served(port: number, path: string): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const body = await fetchText(`http://127.0.0.1:${port}${path}`).catch(() => '');
    if (body !== '') return body;
    await sleep(100);
  }
  return '';
}

function fetchText(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    get(url, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve(text));
    }).on('error', reject);
  });
}
