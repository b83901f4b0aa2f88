// `--rootfs DIR` is never written by hutch. A tree lacking what hutch mounts over (etc/hosts,
// proc, a -v destination) runs on a writable layer over it (the union filesystem, DIR its only
// lower layer); a tree the user may only read, owned by root, runs too. Every file's content,
// mode, owner and times are compared before and after.
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { requires } from '../helpers/host.js';
import { hutch } from '../helpers/hutch-cli.js';
import { containerTest } from '../helpers/container-test.js';

const t = containerTest();
// Made by scripts/prepare-host.sh as root: busybox, etc/passwd and etc/group, tmp; owned by root, 0755.
const READONLY_TREE = process.env.HUTCH_TEST_READONLY_ROOTFS ?? '/var/cache/hutch-test/readonly-rootfs-v1';

/** Every entry under `root`: type and mode, owner, size, mtime and ctime (ns), content hash or link target. */
function snapshot(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: string): void => {
    const path = join(root, rel);
    const st = lstatSync(path, { bigint: true });
    const body = st.isFile()
      ? createHash('sha256').update(readFileSync(path)).digest('hex')
      : st.isSymbolicLink()
        ? readlinkSync(path)
        : '';
    out.set(rel || '.', `${st.mode.toString(8)} ${st.uid}:${st.gid} ${st.size} ${st.mtimeNs} ${st.ctimeNs} ${body}`);
    if (st.isDirectory()) for (const name of readdirSync(path).sort()) walk(join(rel, name));
  };
  walk('');
  return out;
}

const SCRIPT = 'cat /etc/hostname; test -e /proc/self/status && echo proc; echo data > /tmp/x && cat /tmp/x; id -u';
const run = (tree: string, args: string[] = []) =>
  hutch([
    'run',
    '--root',
    t.box.root,
    '--rootfs',
    tree,
    '--network',
    'none',
    '-h',
    'tree',
    ...args,
    '--',
    'sh',
    '-c',
    SCRIPT,
  ]);

describe('a --rootfs tree', () => {
  beforeAll(() => requires('userns', 'busybox', 'fuse'));

  it('owned by root and not writable by the user runs, and is left byte for byte as it was', async () => {
    if (!existsSync(join(READONLY_TREE, 'bin', 'busybox')))
      throw new Error(`${READONLY_TREE} is missing: run scripts/prepare-host.sh as root (npm test does)`);
    expect(lstatSync(READONLY_TREE).uid).toBe(0);
    const before = snapshot(READONLY_TREE);
    const volume = join(t.box.dir, 'volume');
    mkdirSync(volume);
    const r = await run(READONLY_TREE, ['-v', `${volume}:/data`]);
    expect(r.stderr).toBe('');
    expect(String(r.stdout).split('\n')).toEqual(['tree', 'proc', 'data', '0']);
    expect(r.exitCode).toBe(0);
    expect(snapshot(READONLY_TREE)).toEqual(before);
  });

  it('writable but lacking what hutch mounts over is left unchanged too; the container writes to its layer', async () => {
    for (const f of ['etc/hosts', 'etc/hostname', 'etc/resolv.conf', 'proc', 'sys'])
      rmSync(join(t.rootfs, f), { recursive: true, force: true });
    const before = snapshot(t.rootfs);
    const r = await run(t.rootfs);
    expect(String(r.stdout).split('\n')).toEqual(['tree', 'proc', 'data', '0']);
    expect(r.exitCode).toBe(0);
    expect(snapshot(t.rootfs)).toEqual(before);
  });

  it('with everything hutch mounts over, is bound as it is: hutch writes nothing, the container writes through', async () => {
    const before = snapshot(t.rootfs);
    const r = await hutch([
      'run',
      '--root',
      t.box.root,
      '--rootfs',
      t.rootfs,
      '--network',
      'none',
      '--',
      'sh',
      '-c',
      'cat /etc/hosts >/dev/null; echo ok',
    ]);
    expect(r.stdout).toBe('ok');
    expect(snapshot(t.rootfs)).toEqual(before);
    expect(
      (
        await hutch([
          'run',
          '--root',
          t.box.root,
          '--rootfs',
          t.rootfs,
          '--network',
          'none',
          '--',
          'touch',
          '/tmp/made',
        ])
      ).exitCode,
    ).toBe(0);
    expect(existsSync(join(t.rootfs, 'tmp', 'made'))).toBe(true);
  });

  it('complete but not writable by the user (an administrator share) runs on a layer: the container writes, the tree stays', async () => {
    const dirs = (await execa('find', [t.rootfs, '-type', 'd'])).stdout.split('\n');
    for (const d of dirs) chmodSync(d, 0o555);
    try {
      const before = snapshot(t.rootfs);
      const r = await run(t.rootfs);
      expect(r.stderr).toBe('');
      expect(String(r.stdout).split('\n')).toEqual(['tree', 'proc', 'data', '0']);
      expect(snapshot(t.rootfs)).toEqual(before);
    } finally {
      for (const d of dirs) chmodSync(d, 0o755);
    }
  });

  it('run -d on the read-only tree: exec reaches it, rm leaves the tree as it was', async () => {
    const before = snapshot(READONLY_TREE);
    const h = (...args: string[]) => hutch([args[0]!, '--root', t.box.root, ...args.slice(1)]);
    const started = await h(
      'run',
      '-d',
      '--name',
      'ro',
      '--network',
      'none',
      '-h',
      'tree',
      '--rootfs',
      READONLY_TREE,
      '--',
      'sleep',
      '1000',
    );
    expect(started.stderr).toBe('');
    expect(started.exitCode).toBe(0);
    expect((await h('exec', 'ro', 'cat', '/etc/hostname')).stdout).toBe('tree');
    expect((await h('rm', '-f', 'ro')).exitCode).toBe(0);
    expect(snapshot(READONLY_TREE)).toEqual(before);
  });
});
