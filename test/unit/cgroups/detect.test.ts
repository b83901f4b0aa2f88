import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  controllersOf,
  detectHost,
  parseProcCgroup,
  userManagerSockets,
  writableSubtree,
} from '../../../src/cgroups/detect.js';

const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

function fakeRoot(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'hutch-detect-'));
  roots.push(root);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

const HYBRID_MOUNTS = [
  'tmpfs /sys/fs/cgroup tmpfs rw,relatime,mode=755 0 0',
  'cgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu 0 0',
  'cgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0',
  'cgroup /sys/fs/cgroup/pids cgroup rw,relatime,pids 0 0',
  'cgroup /sys/fs/cgroup/systemd cgroup rw,relatime,name=systemd 0 0',
  'cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0',
].join('\n');

describe('cgroup detection from /proc and /sys', () => {
  it('recognises a hybrid host: v2 beside v1, with no controller of its own', () => {
    const root = fakeRoot({
      'proc/self/mounts': HYBRID_MOUNTS,
      'proc/self/cgroup': '4:memory:/x\n0::/\n',
      'sys/fs/cgroup/unified/cgroup.controllers': 'hugetlb\n',
    });
    expect(detectHost(root)).toEqual({
      layout: 'hybrid',
      v2Mount: '/sys/fs/cgroup/unified',
      v2Controllers: ['hugetlb'],
      v1Controllers: ['cpu', 'memory', 'pids'],
      ownCgroup: '/',
    });
  });

  it('recognises a unified host and reads the controllers delegated to the user manager', () => {
    const manager = 'sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service';
    const root = fakeRoot({
      'proc/self/mounts':
        'sysfs /sys sysfs rw 0 0\ncgroup2 /sys/fs/cgroup cgroup2 rw,nsdelegate,memory_recursiveprot 0 0\n',
      'proc/self/cgroup': '0::/user.slice/user-1000.slice/session-2.scope\n',
      'sys/fs/cgroup/cgroup.controllers': 'cpuset cpu io memory hugetlb pids rdma misc\n',
      [`${manager}/cgroup.controllers`]: 'cpu memory pids\n',
    });
    const host = detectHost(root);
    expect(host).toMatchObject({
      layout: 'unified',
      v2Mount: '/sys/fs/cgroup',
      v1Controllers: [],
      ownCgroup: '/user.slice/user-1000.slice/session-2.scope',
    });
    expect(controllersOf(root, '/sys/fs/cgroup', '/user.slice/user-1000.slice/user@1000.service')).toEqual([
      'cpu',
      'memory',
      'pids',
    ]);
  });

  it('ignores v1 mounts hidden by cgroup2 mounted over /sys/fs/cgroup later', () => {
    const root = fakeRoot({
      'proc/self/mounts': `${HYBRID_MOUNTS}\ncgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n`,
      'proc/self/cgroup': '0::/session.scope\n',
    });
    expect(detectHost(root)).toMatchObject({ layout: 'unified', v2Mount: '/sys/fs/cgroup', v1Controllers: [] });
  });

  it('recognises legacy and cgroup-less hosts', () => {
    expect(
      detectHost(fakeRoot({ 'proc/self/mounts': 'cgroup /sys/fs/cgroup/memory cgroup rw,memory 0 0\n' })).layout,
    ).toBe('legacy');
    expect(detectHost(fakeRoot({ 'proc/self/mounts': 'proc /proc proc rw 0 0\n' }))).toMatchObject({
      layout: 'none',
      ownCgroup: undefined,
    });
  });

  it('parses /proc/PID/cgroup', () => {
    expect(parseProcCgroup('12:pids:/a\n0::/user.slice/x.scope\n')).toBe('/user.slice/x.scope');
    expect(parseProcCgroup('0::/gone (deleted)\n')).toBe('/gone');
    expect(parseProcCgroup('1:name=systemd:/\n')).toBeUndefined();
  });

  it('finds a writable delegated subtree, and never the root', () => {
    const root = fakeRoot({
      'proc/self/mounts': 'cgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n',
      'proc/self/cgroup': '0::/job42\n',
      'sys/fs/cgroup/job42/cgroup.procs': '',
      'sys/fs/cgroup/job42/cgroup.subtree_control': '',
    });
    const host = detectHost(root);
    expect(writableSubtree(root, host)).toBe('/job42');
    expect(writableSubtree(root, host, '/')).toBeUndefined();
    expect(writableSubtree(root, host, '/absent')).toBeUndefined();
  });

  it('finds the user manager sockets from the environment', () => {
    const root = fakeRoot({ 'run/user/1000/bus': '', 'run/user/1000/systemd/private': '' });
    const found = {
      runtimeDir: '/run/user/1000',
      bus: 'unix:path=/run/user/1000/bus',
      privateSocket: '/run/user/1000/systemd/private',
    };
    expect(userManagerSockets({ XDG_RUNTIME_DIR: '/run/user/1000' }, root, 1000)).toEqual(found);
    expect(userManagerSockets({}, root, 1000)).toEqual(found);
    expect(userManagerSockets({}, root, 1001)).toEqual({
      runtimeDir: undefined,
      bus: undefined,
      privateSocket: undefined,
    });
    expect(userManagerSockets({ DBUS_SESSION_BUS_ADDRESS: 'unix:abstract=/tmp/dbus-x' }, root, 1001).bus).toBe(
      'unix:abstract=/tmp/dbus-x',
    );
  });
});
