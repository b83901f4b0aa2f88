// hutch-fs as mount(8) runs it (`mount -t fuse.hutch-fs SOURCE MNT -o ...` through mount.fuse3,
// with the system PATH), each case beside fuse-overlayfs on the same lower and a fresh upper.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
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
async function agent(mode: 'range' | 'single'): Promise<NsAgent> {
  ns = startAgent(mode, tmp);
  await ns.ok(`mkdir -p bin && ln -s ${repo}/bin/hutch-fs bin/hutch-fs && mount --bind bin /usr/local/sbin && mkdir -p l u-hutch-fs u-fuse-overlayfs w-hutch-fs w-fuse-overlayfs m-hutch-fs m-fuse-overlayfs`);
  return ns;
}

const layers = (d: Driver): string => `lowerdir=${tmp}/l,upperdir=${tmp}/u-${d},workdir=${tmp}/w-${d}`;
/** The mount's per-mount flags, type and source as /proc/self/mountinfo shows them. */
const flagsOf = async (d: Driver): Promise<string> =>
  (await ns!.ok(`awk '$5 == "${tmp}/m-${d}" { for (i = 7; $i != "-"; i++); print $6 " " $(i + 1) " " $(i + 2) }' /proc/self/mountinfo`)).trim();

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

  it('refuses uidmapping= and gidmapping= with a named error rather than ignoring them', async () => {
    await agent('single');
    const r = await ns!.sh(`mount -t fuse.hutch-fs overlay m-hutch-fs -o ${layers('hutch-fs')},uidmapping=0:1000:1`);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/hutch-fs cannot mount with -o uidmapping=0:1000:1: id shifting between the layers and the mount is not implemented/);
    expect(await ns!.ok('cat /proc/self/mountinfo')).not.toContain(`${tmp}/m-hutch-fs`);
  });
});
