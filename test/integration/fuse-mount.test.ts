// hutch-fs as mount(8) runs it (`mount -t fuse.hutch-fs SOURCE MNT -o ...` through mount.fuse3,
// with the system PATH), each case beside fuse-overlayfs on the same lower and a fresh upper.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requires } from '../helpers/host.js';
import { startAgent, type NsAgent } from '../helpers/userns.js';

const repo = join(import.meta.dirname, '..', '..');
const DRIVERS = ['hutch-fs', 'fuse-overlayfs'] as const;
type Driver = (typeof DRIVERS)[number];
// fuse-overlayfs names its mounts after itself (and mounts noatime); hutch-fs after mount(8)'s source.
const SOURCE: Record<Driver, string> = { 'hutch-fs': 'overlay', 'fuse-overlayfs': 'fuse-overlayfs' };
let tmp: string;
let ns: NsAgent | undefined;

/**
 * A namespace whose system PATH has hutch-fs, as an install puts it there: mount(8) drops the
 * caller's PATH and mount.fuse3's shell falls back to /usr/local/sbin:...; a bind mount of a
 * directory holding the symlink over (empty) /usr/local/sbin, inside the test's own mount
 * namespace, shows it there without touching the host others test on.
 */
async function agent(mode: 'range' | 'single', at = tmp): Promise<NsAgent> {
  ns = startAgent(mode, tmp);
  await ns.ok(`mkdir -p bin && ln -s ${repo}/bin/hutch-fs bin/hutch-fs && mount --bind bin /usr/local/sbin`);
  await ns.ok(
    `mkdir -p ${at} && cd ${at} && mkdir -p l u-hutch-fs u-fuse-overlayfs w-hutch-fs w-fuse-overlayfs m-hutch-fs m-fuse-overlayfs`,
  );
  return ns;
}

const layers = (d: Driver, at = tmp): string => `lowerdir=${at}/l,upperdir=${at}/u-${d},workdir=${at}/w-${d}`;

/**
 * Each change at a path inside the mount of exactly 4095 bytes (16 directories of 249-byte names,
 * then a 94-byte name): what it reports, 'ok' or the error. `lower` is a file the lower layer has
 * there (a chmod copies it up).
 */
const LONG_OPS = `
import json, os, sys
os.chdir(sys.argv[1])
rel = '/'.join(('d%02d' % i) + 'x' * 246 for i in range(16))
leaf = lambda c: rel + '/' + c * 94
res = {}
def op(k, f):
    try:
        f()
        res[k] = 'ok'
    except OSError as e:
        res[k] = e.strerror
op('mkdir -p', lambda: os.makedirs(rel, exist_ok=True))
op('create', lambda: open(leaf('f'), 'w').write('x' * 20))
op('mkdir', lambda: os.mkdir(leaf('d')))
op('link', lambda: os.link(leaf('f'), leaf('l')))
op('rename', lambda: os.rename(leaf('l'), leaf('r')))
op('symlink', lambda: os.symlink('t' * 100, leaf('s')))
op('chmod', lambda: os.chmod(leaf('f'), 0o600))
op('chown', lambda: os.chown(leaf('f'), 0, 0))
op('truncate', lambda: os.truncate(leaf('f'), 10))
op('chmod lower', lambda: os.chmod(leaf('z'), 0o600))
op('read back', lambda: res.__setitem__('sizes', [os.stat(leaf(c)).st_size for c in 'frz']))
print(json.dumps({'length': len('/' + leaf('f')), **res}, sort_keys=True))
`;
/** The mount's per-mount flags, type and source as /proc/self/mountinfo shows them. */
const flagsOf = async (d: Driver): Promise<string> =>
  (
    await ns!.ok(
      `awk '$5 == "${tmp}/m-${d}" { for (i = 7; $i != "-"; i++); print $6 " " $(i + 1) " " $(i + 2) }' /proc/self/mountinfo`,
    )
  ).trim();

beforeEach(() => {
  requires('fuse', 'userns');
  tmp = mkdtempSync(join(tmpdir(), 'hutch-fsmount-'));
  chmodSync(tmp, 0o755);
});

afterEach(async () => {
  if (ns !== undefined) {
    await ns.sh(`for m in m-*; do umount $m 2>/dev/null; done`);
    expect(await ns.ok('cat /proc/self/mountinfo')).not.toContain(`${tmp}/m-`);
    await ns.sh(`rm -rf ${tmp}/*`);
    await ns.close();
    ns = undefined;
  }
  rmSync(tmp, { recursive: true, force: true });
});

describe('mount -t fuse.hutch-fs, beside fuse-overlayfs', () => {
  it('mounts through mount(8) and mount.fuse3 with the source argument, suid and dev as mount.fuse3 gives them', async () => {
    await agent('single');
    await ns!.ok('echo lower > l/f');
    for (const d of DRIVERS) {
      await ns!.ok(`mount -t fuse.${d} overlay m-${d} -o ${layers(d)}`);
      // mount.fuse3 running as root (of the namespace) adds dev,suid: neither mount is nosuid.
      expect(await flagsOf(d)).toMatch(new RegExp(`^rw,(rel|no)atime fuse\\.${d} ${SOURCE[d]}$`));
      expect(await ns!.ok(`cat m-${d}/f; echo upper > m-${d}/g; cat u-${d}/g`)).toBe('lower\nupper\n');
    }
  });

  it('takes an fstab line, and honours nosuid, nodev and noexec as given', async () => {
    await agent('single');
    await ns!.ok('cp /bin/true l/true');
    const fstab = DRIVERS.map((d) => `overlay ${tmp}/m-${d} fuse.${d} ${layers(d)},nosuid,nodev,noexec 0 0`).join('\n');
    await ns!.ok(`printf '%s\\n' '${fstab}' > fstab`);
    for (const d of DRIVERS) {
      await ns!.ok(`mount -T fstab ${tmp}/m-${d}`);
      expect(await flagsOf(d)).toMatch(new RegExp(`^rw,nosuid,nodev,noexec,(rel|no)atime fuse\\.${d} ${SOURCE[d]}$`));
      expect((await ns!.sh(`m-${d}/true`)).stderr).toMatch(/Permission denied/);
    }
  });

  it('runs setuid programs on a suid mount and not on a nosuid one', async () => {
    requires('subuid', 'newuidmap');
    await agent('range');
    // A setuid-root copy of id: run as uid 1000 of the namespace, its euid is 0 when honoured.
    await ns!.ok('cp /usr/bin/id l/id && chmod 4755 l/id');
    for (const d of DRIVERS) {
      await ns!.ok(`mount -t fuse.${d} overlay m-${d} -o ${layers(d)},suid`);
      expect(await ns!.ok(`setpriv --reuid=1000 --regid=1000 --clear-groups m-${d}/id -u`)).toBe('0\n');
      await ns!.ok(`umount m-${d} && mount -t fuse.${d} overlay m-${d} -o ${layers(d)},nosuid`);
      expect(await ns!.ok(`setpriv --reuid=1000 --regid=1000 --clear-groups m-${d}/id -u`)).toBe('1000\n');
    }
  });

  it("works at paths of 4095 bytes inside the mount when the upper directory's own path is long", async () => {
    // Layers, work and mount points under a directory of ~2 KB: upper path + inside path > PATH_MAX.
    const long = `${tmp}/${Array.from({ length: 8 }, (_, i) => `${i}${'p'.repeat(249)}`).join('/')}`;
    writeFileSync(join(tmp, 'long-ops.py'), LONG_OPS);
    await agent('single', long);
    // The lower file at the same 4095-byte path (made from inside the lower directory, step by step).
    await ns!.ok(
      `cd ${long}/l && python3 -c "import os; r = '/'.join(('d%02d' % i) + 'x' * 246 for i in range(16)); os.makedirs(r); os.chdir(r); open('z' * 94, 'w').write('lower')"`,
    );
    const results: Record<string, unknown> = {};
    for (const d of DRIVERS) {
      await ns!.ok(`mount -t fuse.${d} overlay ${long}/m-${d} -o ${layers(d, long)}`);
      results[d] = JSON.parse(await ns!.ok(`python3 ${tmp}/long-ops.py ${long}/m-${d}`));
      await ns!.ok(`umount ${long}/m-${d}`);
    }
    const all = {
      length: 4095,
      'mkdir -p': 'ok',
      create: 'ok',
      mkdir: 'ok',
      link: 'ok',
      rename: 'ok',
      symlink: 'ok',
      chmod: 'ok',
      chown: 'ok',
      truncate: 'ok',
      'chmod lower': 'ok',
      'read back': 'ok',
      sizes: [10, 10, 5],
    };
    expect(results['hutch-fs']).toEqual(all);
    // fuse-overlayfs (1.10) falls short here: mkdir ENAMETOOLONG, the lower file's copy-up ENOSPC.
    expect(results['fuse-overlayfs']).toMatchObject({
      length: 4095,
      create: 'ok',
      link: 'ok',
      rename: 'ok',
      chmod: 'ok',
      truncate: 'ok',
    });
  });

  it('shifts ids with uidmapping= and gidmapping= as fuse-overlayfs does: stat, chown, a new file on disk', async () => {
    requires('subuid', 'newuidmap');
    await agent('range');
    // Disk ids 0-9 show as 100-109 in the mount; 20 is outside the mapping.
    const map = 'uidmapping=0:100:10,gidmapping=0:100:10';
    await ns!.ok('touch l/a l/b l/c && chown 1:2 l/b && chown 20:20 l/c && mkdir -m 777 l/d');
    const out: Record<string, string> = {};
    for (const d of DRIVERS) {
      await ns!.ok(`mount -t fuse.${d} overlay m-${d} -o ${layers(d)},${map}`);
      const m = `m-${d}`;
      const shown = await ns!.ok(`stat -c %u:%g ${m}/a ${m}/b ${m}/c ${m}/d`);
      await ns!.ok(`chown 105:106 ${m}/a && chown :109 ${m}/b`);
      await ns!.ok(`setpriv --reuid=103 --regid=104 --clear-groups touch ${m}/d/new`);
      const after = await ns!.ok(`stat -c %u:%g ${m}/a ${m}/b ${m}/d/new`);
      const disk = await ns!.ok(`stat -c %u:%g u-${d}/a u-${d}/b u-${d}/d/new`);
      out[d] = `${shown}|${after}|${disk}`;
    }
    expect(out['hutch-fs']).toBe(
      '100:100\n101:102\n65534:65534\n100:100\n|105:106\n101:109\n103:104\n|5:6\n1:9\n3:4\n',
    );
    expect(out['fuse-overlayfs']).toBe(out['hutch-fs']);
    // Ids outside the mapping: a creator's file is the overflow id's on disk in both; a chown to one
    // is refused by hutch-fs (EINVAL) where fuse-overlayfs stores the overflow id.
    for (const d of DRIVERS) await ns!.ok(`touch m-${d}/byroot`);
    expect((await ns!.sh('chown 50 m-hutch-fs/a')).stderr).toMatch(/Invalid argument/);
    await ns!.ok('chown 50 m-fuse-overlayfs/a');
    expect(await ns!.ok('stat -c %u:%g u-hutch-fs/a u-hutch-fs/byroot m-hutch-fs/byroot')).toBe(
      '5:6\n65534:65534\n65534:65534\n',
    );
    expect(await ns!.ok('stat -c %u:%g u-fuse-overlayfs/a u-fuse-overlayfs/byroot m-fuse-overlayfs/byroot')).toBe(
      '65534:6\n65534:65534\n65534:65534\n',
    );
  });
});
