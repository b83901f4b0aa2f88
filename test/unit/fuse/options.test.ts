import { describe, expect, it } from 'vitest';
import {
  decodeArgsLine,
  DEFAULT_LINGER_S,
  encodeArgsLine,
  lingerSetting,
  parseFsArgs,
  splitColons,
} from '../../../fuse/options.js';
import { daemonArgs } from '../../../fuse/mount.js';
import { sessionOptions } from '../../../fuse/daemon.js';

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
    const o = parseFsArgs(
      ['-f', '-o', 'lowerdir=/a\\,x:/b,lowerindex=/a.idx:,upperdir=/u,workdir=/w,overrideonly', '/m'],
      '/',
    );
    expect(o.lowers).toEqual([{ dir: '/a,x', indexFile: '/a.idx' }, { dir: '/b' }]);
    expect(o.overrideOnly).toBe(true);
    expect(o.foreground).toBe(true);
  });

  it('pairs squashfs images with the lower dirs squashfuse mounts them at (hutch run FILE.sqfs)', () => {
    const args = daemonArgs({
      lowers: [{ dir: '/run/lower:1', squashfs: '/img,1.sqfs' }, { dir: '/l2' }],
      upper: '/u',
      work: '/w',
      mountpoint: '/m',
    });
    const o = parseFsArgs(args, '/');
    expect(o.lowers).toEqual([{ dir: '/run/lower:1' }, { dir: '/l2' }]);
    expect(o.squashLowers).toEqual([{ image: '/img,1.sqfs', dir: '/run/lower:1' }]);
    expect(o.ignored).toEqual([]);
    expect(parseFsArgs(['-o', 'lowerdir=/a,upperdir=/u,workdir=/w', '/m'], '/').squashLowers).toEqual([]);
  });

  it('round-trips what mountUnion passes the daemon', () => {
    const args = daemonArgs({
      lowers: [
        { dir: '/l:1', indexFile: '/i,1' },
        { dir: '/l2', indexFile: '/i2' },
      ],
      upper: '/u',
      work: '/w',
      mountpoint: '/m',
      uidMapped: true,
    });
    const o = parseFsArgs(args, '/');
    expect(o.lowers).toEqual([
      { dir: '/l:1', indexFile: '/i,1' },
      { dir: '/l2', indexFile: '/i2' },
    ]);
    expect(o.overrideOnly).toBe(true);
  });

  it('refuses a missing upper directory or mount point', () => {
    expect(() => parseFsArgs(['-o', 'lowerdir=/a', '/m'], '/')).toThrow(/upperdir/);
    expect(() => parseFsArgs(['-o', 'lowerdir=/a,upperdir=/u,workdir=/w'], '/')).toThrow(/one mount point/);
    expect(() => parseFsArgs(['-o', 'lowerdir=/a,upperdir=/u,workdir=/w', 's', 'm', 'x'], '/')).toThrow(
      /one mount point/,
    );
  });

  it("takes mount(8)'s source argument and its generic mount flags as mount.fuse3 passes them", () => {
    const o = parseFsArgs(['overlay', '/m', '-o', 'rw,lowerdir=/l,upperdir=/u,workdir=/w,noexec,dev,suid'], '/');
    expect([o.source, o.mountpoint, o.mountFlags, o.ignored]).toEqual([
      'overlay',
      '/m',
      ['rw', 'noexec', 'dev', 'suid'],
      [],
    ]);
    expect(sessionOptions(o)).toBe(
      'allow_other,default_permissions,fsname=overlay,subtype=hutch-fs,rw,noexec,dev,suid',
    );
    expect(sessionOptions({ source: 'a,b', mountFlags: [] })).toBe(
      'allow_other,default_permissions,fsname=hutch-fs,subtype=hutch-fs',
    );
  });

  it("keeps nosuid and nodev for hutch's own mounts", () => {
    const o = parseFsArgs(daemonArgs({ lowers: [{ dir: '/l' }], upper: '/u', work: '/w', mountpoint: '/m' }), '/');
    expect(o.mountFlags).toEqual(['nosuid', 'nodev']);
  });

  it("takes podman's uidmapping= and gidmapping= (fuse-overlayfs's DISK:MOUNT:LEN lists), each alone or both", () => {
    const o = parseFsArgs(
      ['-o', 'lowerdir=/l,upperdir=/u,workdir=/w,uidmapping=0:1000:1:1:100000:65536,gidmapping=0:1000:1', '/m'],
      '/',
    );
    expect(o.idRanges).toEqual({
      uids: [
        { disk: 0, mount: 1000, len: 1 },
        { disk: 1, mount: 100000, len: 65536 },
      ],
      gids: [{ disk: 0, mount: 1000, len: 1 }],
    });
    expect(o.ignored).toEqual([]);
    expect(parseFsArgs(['-o', 'lowerdir=/l,upperdir=/u,workdir=/w,gidmapping=0:5:2', '/m'], '/').idRanges).toEqual({
      uids: undefined,
      gids: [{ disk: 0, mount: 5, len: 2 }],
    });
    expect(parseFsArgs(['-o', 'lowerdir=/l,upperdir=/u,workdir=/w', '/m'], '/').idRanges).toBeUndefined();
    // podman (containers/storage) starts each list with a colon: empty fields are skipped, as by fuse-overlayfs.
    expect(parseFsArgs(['-o', 'lowerdir=/l,upperdir=/u,workdir=/w,uidmapping=:0:1:1024', '/m'], '/').idRanges).toEqual({
      uids: [{ disk: 0, mount: 1, len: 1024 }],
      gids: undefined,
    });
  });

  it('refuses malformed or overlapping id mappings, naming the option', () => {
    for (const bad of [
      '',
      '0:1000',
      '0:1000:1:2',
      'a:1:1',
      '0:-1:1',
      '0:1:0',
      '0:4294967295:1',
      '0:10:5:3:100:5',
      '0:10:5:100:12:5',
    ])
      expect(() => parseFsArgs(['-o', `lowerdir=/l,upperdir=/u,workdir=/w,uidmapping=${bad}`, '/m'], '/')).toThrow(
        expect.objectContaining({ code: 'FS_USAGE', message: expect.stringContaining(`uidmapping=${bad}:`) }),
      );
  });
});

describe('the argument line of a pre-started daemon (HUTCH_FS_ARGS_FD)', () => {
  it('carries daemonArgs-style lists as given, paths with commas, colons, spaces and UTF-8 included, and a log', () => {
    const argv = ['-f', '-o', 'lowerdir=/a\\:b,upperdir=/u d,workdir=/wé', '/mnt/m,1'];
    for (const given of [{ args: argv }, { args: argv, log: '/run/x/monitor.log' }]) {
      const line = encodeArgsLine(given);
      expect(line.endsWith('\n')).toBe(true);
      expect(line.indexOf('\n')).toBe(line.length - 1);
      expect(decodeArgsLine(line.slice(0, -1))).toEqual(given);
      expect(parseFsArgs(decodeArgsLine(line.slice(0, -1)).args, '/').upper).toBe('/u d');
    }
  });

  it('refuses a line that is not one, as a usage error', () => {
    for (const bad of ['', 'lowerdir=/x', '{"a":1}', '[1,2]', '["-f"]', '{"args":["-f",null]}', '{"args":[],"log":1}'])
      expect(() => decodeArgsLine(bad)).toThrow(/not \{"args"/);
  });
});

describe('HUTCH_FS_LINGER (the shared daemon after its last session)', () => {
  it('takes whole seconds, 0 included; unset or empty is the default; anything else is warned of', () => {
    const warned: string[] = [];
    const warn = (line: string): void => void warned.push(line);
    expect(lingerSetting({}, warn)).toBe(DEFAULT_LINGER_S);
    expect(lingerSetting({ HUTCH_FS_LINGER: '' }, warn)).toBe(DEFAULT_LINGER_S);
    expect(lingerSetting({ HUTCH_FS_LINGER: '0' }, warn)).toBe(0);
    expect(lingerSetting({ HUTCH_FS_LINGER: '90' }, warn)).toBe(90);
    expect(warned).toEqual([]);
    for (const bad of ['1.5', '-1', '30s', '99999999']) expect(lingerSetting({ HUTCH_FS_LINGER: bad }, warn)).toBe(60);
    expect(warned).toHaveLength(4);
    expect(warned[0]).toBe('HUTCH_FS_LINGER=1.5 is not a count of seconds: the daemon lingers 60 s');
  });
});
