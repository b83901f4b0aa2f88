import { describe, expect, it } from 'vitest';
import { parseFsArgs, splitColons } from '../../../fuse/options.js';
import { daemonArgs } from '../../../fuse/mount.js';

describe('hutch-fs command line', () => {
  it('takes fuse-overlayfs options, top layer first, relative to the cwd', () => {
    const o = parseFsArgs(['-o', 'lowerdir=l/A:l/B,upperdir=u,workdir=w,squash_to_root,fsync=0', 'm'], '/s');
    expect(o.lowers).toEqual([{ dir: '/s/l/A' }, { dir: '/s/l/B' }]);
    expect([o.upper, o.work, o.mountpoint, o.foreground]).toEqual(['/s/u', '/s/w', '/s/m', false]);
    expect(o.squash).toEqual({ uid: 0, gid: 0 });
    expect(o.ignored).toEqual(['fsync']);
  });

  it('pairs lower indexes with lower layers and keeps escaped separators', () => {
    expect(splitColons('a\\:b:c')).toEqual(['a:b', 'c']);
    const o = parseFsArgs(['-f', '-o', 'lowerdir=/a\\,x:/b,lowerindex=/a.idx:,upperdir=/u,workdir=/w,overrideonly', '/m'], '/');
    expect(o.lowers).toEqual([{ dir: '/a,x', indexFile: '/a.idx' }, { dir: '/b' }]);
    expect(o.overrideOnly).toBe(true);
    expect(o.foreground).toBe(true);
  });

  it('round-trips what mountUnion passes the daemon', () => {
    const args = daemonArgs({ lowers: [{ dir: '/l:1', indexFile: '/i,1' }, { dir: '/l2', indexFile: '/i2' }], upper: '/u', work: '/w', mountpoint: '/m', uidMapped: true });
    const o = parseFsArgs(args, '/');
    expect(o.lowers).toEqual([{ dir: '/l:1', indexFile: '/i,1' }, { dir: '/l2', indexFile: '/i2' }]);
    expect(o.overrideOnly).toBe(true);
  });

  it('refuses a missing upper directory or mount point', () => {
    expect(() => parseFsArgs(['-o', 'lowerdir=/a', '/m'], '/')).toThrow(/upperdir/);
    expect(() => parseFsArgs(['-o', 'lowerdir=/a,upperdir=/u,workdir=/w'], '/')).toThrow(/one mount point/);
    expect(() => parseFsArgs(['-o', 'lowerdir=/a,upperdir=/u,workdir=/w', 's', '/m', '/x'], '/')).toThrow(/one mount point/);
  });

  it("takes mount.fuse3's SOURCE MOUNTPOINT order (mount -t fuse.hutch-fs)", () => {
    const o = parseFsArgs(['hutch-fs', '/m', '-o', 'rw,lowerdir=/a,upperdir=/u,workdir=/w,dev,suid'], '/');
    expect(o.mountpoint).toBe('/m');
    expect(o.lowers).toEqual([{ dir: '/a' }]);
    expect(o.ignored).toEqual(['rw', 'dev', 'suid']);
  });
});
