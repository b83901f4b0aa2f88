// Single-file images: `hutch squash IMAGE -o FILE` writes the flattened image as a squashfs (owners,
// modes, deletions of upper layers and the config kept), and `hutch run FILE` (or --rootfs FILE)
// runs it through squashfuse inside the container's user namespace, under the union filesystem:
// no unpack, the file never changes, nothing mounted or running once the run ends (killed or not).
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { requires } from '../helpers/host.js';
import { hutch, type Sandbox } from '../helpers/hutch-cli.js';
import { useImageSandbox } from '../helpers/frames.js';

requires('fuse', 'subuid', 'newuidmap', 'busybox', 'squashfs');

let box: Sandbox;
useImageSandbox((b) => (box = b));
const run = (args: string[]) => hutch(['run', '--root', box.root, '--network', 'none', ...args]);
const sha = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

/** This user's squashfuse processes serving `file` (none may outlive a run). */
async function squashfuses(file: string): Promise<string[]> {
  const r = await execa('pgrep', ['-a', '-u', String(process.getuid!()), 'squashfuse'], { reject: false });
  return r.stdout.split('\n').filter((l) => l.includes(file));
}

/** An image with owners other than root: home/user is 1000:1000 (0700), bin/suid is setuid. */
async function ownedImage(): Promise<void> {
  const d = join(box.dir, 'owned');
  mkdirSync(join(d, 'r1', 'bin'), { recursive: true });
  mkdirSync(join(d, 'r2', 'home', 'user'), { recursive: true });
  copyFileSync('/bin/busybox', join(d, 'r1', 'bin', 'busybox'));
  writeFileSync(join(d, 'r1', 'bin', 'suid'), 'x');
  chmodSync(join(d, 'r1', 'bin', 'suid'), 0o4755);
  writeFileSync(join(d, 'r2', 'home', 'user', 'notes'), 'mine\n');
  chmodSync(join(d, 'r2', 'home', 'user'), 0o700);
  const tar = join(d, 'owned.tar');
  await execa('tar', ['--numeric-owner', '--owner=0', '--group=0', '-C', join(d, 'r1'), '-cf', tar, '.']);
  await execa('tar', ['--numeric-owner', '--owner=1000', '--group=1000', '-C', join(d, 'r2'), '-rf', tar, 'home']);
  const r = await hutch(['import', '--root', box.root, tar, 'localhost/owned']);
  expect(r.stderr).toBe('');
}

describe('hutch squash', () => {
  let file: string;
  beforeAll(async () => {
    file = join(box.dir, 'it.sqfs');
    const r = await hutch(['squash', '--root', box.root, 'localhost/itest', '-o', file]);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
  }, 60_000);

  it('writes the merged layers (a deletion of layer 2 kept) and the config at /.hutch/config.json', async () => {
    const list = (await execa('unsquashfs', ['-lln', file])).stdout;
    expect(list).toMatch(/^drwxrwxrwt 0\/0 .* squashfs-root\/tmp$/m);
    expect(list).toMatch(/ squashfs-root\/data\/new$/m);
    expect(list).toMatch(/ squashfs-root\/data\/keep$/m);
    expect(list).not.toMatch(/data\/gone/);
    const config = JSON.parse((await execa('unsquashfs', ['-cat', file, '.hutch/config.json'])).stdout);
    expect(config.config.WorkingDir).toBe('/work');
  });

  it('keeps owners and modes other than root', async () => {
    await ownedImage();
    const owned = join(box.dir, 'owned.sqfs');
    expect((await hutch(['squash', '--root', box.root, 'localhost/owned', '-o', owned])).exitCode).toBe(0);
    const list = (await execa('unsquashfs', ['-lln', owned])).stdout;
    expect(list).toMatch(/^drwx------ 1000\/1000 .* squashfs-root\/home\/user$/m);
    expect(list).toMatch(/^-rw-r--r-- 1000\/1000 .* squashfs-root\/home\/user\/notes$/m);
    expect(list).toMatch(/^-rwsr-xr-x 0\/0 .* squashfs-root\/bin\/suid$/m);
  });

  it('of an image not in the store fails naming it, and leaves no file', async () => {
    const out = join(box.dir, 'none.sqfs');
    const r = await hutch(['squash', '--root', box.root, 'localhost/nope', '-o', out]);
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toContain('localhost/nope');
    expect((await execa('ls', ['-A', box.dir])).stdout).not.toContain('none.sqfs');
  });
});

describe('hutch run FILE.sqfs', () => {
  let file: string;
  beforeAll(async () => {
    file = join(box.dir, 'run.sqfs');
    expect((await hutch(['squash', '--root', box.root, 'localhost/itest', '-o', file])).exitCode).toBe(0);
    await ownedImage();
  }, 60_000);

  it('applies the image config from the file: Cmd, Env, WorkingDir, User', async () => {
    const before = sha(file);
    const r = await run([file]);
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n')).toEqual(['cmd-ran', '1000', '/work', 'hello-from-image']);
    expect(r.exitCode).toBe(0);
    expect(sha(file)).toBe(before);
    expect(await squashfuses(file)).toEqual([]);
  });

  it('--rootfs FILE is the same; writes go to the container, deletions of layer 2 stay deleted', async () => {
    const script = 'echo w > /data/keep && cat /data/keep; test -e /data/gone || echo gone-gone; cat /data/new';
    const r = await run(['--rootfs', file, '-u', '0', '--', 'sh', '-c', script]);
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n')).toEqual(['w', 'gone-gone', 'layer2']);
    const again = await run(['--rootfs', file, '-u', '0', '--', 'cat', '/data/keep']);
    expect(again.stdout).toBe('keep');
  });

  it('shows the owners and modes the image has, mapped into the container', async () => {
    const owned = join(box.dir, 'owned-run.sqfs');
    expect((await hutch(['squash', '--root', box.root, 'localhost/owned', '-o', owned])).exitCode).toBe(0);
    const r = await run([owned, '/bin/busybox', 'stat', '-c', '%u:%g %a %n', '/home/user', '/bin/suid']);
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n')).toEqual(['1000:1000 700 /home/user', '0:0 4755 /bin/suid']);
  });

  it('hutch killed with -9: squashfuse, the daemon and the container go too, nothing stays mounted', async () => {
    const child = run([file, 'sleep', '60']);
    for (let i = 0; i < 400 && (await squashfuses(file)).length === 0; i++) await sleep(50);
    expect(await squashfuses(file)).toHaveLength(1);
    child.kill('SIGKILL');
    await child;
    for (let i = 0; i < 100 && (await squashfuses(file)).length > 0; i++) await sleep(50);
    expect(await squashfuses(file)).toEqual([]);
    // The next run sweeps the killed run's folders (the sandbox checks nothing is left after it).
    expect((await run([file, 'true'])).exitCode).toBe(0);
  });

  it('run -d: exec reaches the container, rm -f ends it and squashfuse with it', async () => {
    const h = (...args: string[]) => hutch([args[0]!, '--root', box.root, ...args.slice(1)]);
    const started = await h('run', '-d', '--name', 'sq', '--network', 'none', file, 'sleep', '1000');
    expect(started.stderr).toBe('');
    expect((await h('exec', 'sq', 'cat', '/data/new')).stdout).toBe('layer2');
    expect((await h('rm', '-f', 'sq')).exitCode).toBe(0);
    for (let i = 0; i < 100 && (await squashfuses(file)).length > 0; i++) await sleep(50);
    expect(await squashfuses(file)).toEqual([]);
  });

  it('a file with the magic but no squashfs in it fails naming it and leaves nothing behind', async () => {
    const bad = join(box.dir, 'bad.sqfs');
    writeFileSync(bad, Buffer.concat([Buffer.from('hsqs'), Buffer.alloc(4096, 7)]));
    const r = await run([bad, 'true']);
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toContain(`cannot read the squashfs image ${bad}`);
    expect(await squashfuses(bad)).toEqual([]);
  });
});
