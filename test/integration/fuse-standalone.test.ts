// bin/hutch-fs as fuse-overlayfs takes it (plain lower directories, overlay-style whiteouts),
// single-uid mode (ownership in user.containers.override_stat), and a daemon killed with -9.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chmodSync, linkSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requires } from '../helpers/host.js';
import { startAgent, type NsAgent } from '../helpers/userns.js';

const repo = join(import.meta.dirname, '..', '..');
const hutchFs = join(repo, 'bin/hutch-fs');
let tmp: string;
let ns: NsAgent;
const py = (code: string): string => `python3 -c '${code.replace(/'/g, `'"'"'`)}'`;

beforeEach(() => {
  requires('fuse', 'userns');
  tmp = mkdtempSync(join(tmpdir(), 'hutch-fs-'));
  chmodSync(tmp, 0o755);
  for (const d of ['l1/d', 'l1/o', 'l1/x', 'l2/d', 'l2/o', 'l2/x', 'up', 'wk', 'mnt'])
    mkdirSync(join(tmp, d), { recursive: true });
  writeFileSync(join(tmp, 'l2/d/keep'), 'keep\n');
  writeFileSync(join(tmp, 'l2/d/wh-file'), 'hidden by .wh.\n');
  writeFileSync(join(tmp, 'l2/d/wh-dev'), 'hidden by 0/0\n');
  writeFileSync(join(tmp, 'l1/d/.wh.wh-file'), '');
  writeFileSync(join(tmp, 'l2/o/below'), '');
  writeFileSync(join(tmp, 'l1/o/.wh..wh..opq'), '');
  writeFileSync(join(tmp, 'l1/o/above'), '');
  writeFileSync(join(tmp, 'l2/x/below'), '');
  writeFileSync(join(tmp, 'l1/x/above'), '');
  writeFileSync(join(tmp, 'l2/owned'), 'o\n');
  writeFileSync(join(tmp, 'up/h1'), 'first\n');
  linkSync(join(tmp, 'up/h1'), join(tmp, 'up/h2'));
});

afterEach(async () => {
  if (ns !== undefined) {
    await ns.sh(`umount ${tmp}/mnt 2>/dev/null; rm -rf ${tmp}`);
    expect(await ns.ok('cat /proc/self/mountinfo')).not.toContain(tmp);
    await ns.close();
  }
  rmSync(tmp, { recursive: true, force: true });
});

describe('hutch-fs, the fuse-overlayfs drop-in', () => {
  // overrideonly: what hutch does with a single mapped uid, where chown for real is impossible.
  it('reads overlay-style whiteouts and opaque markers, and keeps ownership in override_stat', async () => {
    requires('subuid', 'newuidmap');
    ns = startAgent('range', tmp);
    await ns.ok(
      `mknod l1/d/wh-dev c 0 0 && ${py(`import os;os.setxattr("l1/x","user.overlay.opaque",b"y");os.setxattr("l2/owned","user.containers.override_stat",b"12:34:0100640")`)}`,
    );
    await ns.ok(`${hutchFs} -o lowerdir=l1:l2,upperdir=up,workdir=wk,overrideonly,some_unknown_option mnt`);
    expect(await ns.ok('ls -a mnt/d; ls mnt/o mnt/x')).toBe('.\n..\nkeep\nmnt/o:\nabove\n\nmnt/x:\nabove\n');
    expect(await ns.ok('stat -c %u:%g:%a mnt/owned')).toBe('12:34:640\n');
    await ns.ok(
      'chown 1234:5678 mnt/d/keep && mkdir mnt/newdir && chown 42:42 mnt/newdir && rm mnt/d/keep && echo k > mnt/d/keep',
    );
    expect(await ns.ok('stat -c %u:%g mnt/newdir mnt/d/keep')).toBe('42:42\n0:0\n');
    expect(await ns.ok(py(`import os;print(os.getxattr("up/newdir","user.containers.override_stat").decode())`))).toBe(
      '42:42:040755\n',
    );
    expect(await ns.ok('stat -c %u:%g up/newdir')).toBe('0:0\n');
    // Two names of one upper file, each its own kernel inode: a write through one shows through the other.
    expect(await ns.ok('cat mnt/h2; echo second > mnt/h1; cat mnt/h2; stat -c %i mnt/h1 mnt/h2 | uniq | wc -l')).toBe(
      'first\nsecond\n1\n',
    );
    expect(await ns.ok('umount mnt && ls -a up/d')).toBe('.\n..\nkeep\n');
  });

  it('lets a killed daemon surface as ENOTCONN and unmounts cleanly', async () => {
    ns = startAgent('single', tmp);
    await ns.js(`
      const { mountUnion } = await imp(${JSON.stringify(join(repo, 'dist/fuse/mount.js'))});
      const d = ${JSON.stringify(tmp)};
      globalThis.m = await mountUnion({ lowers: [{ dir: d + '/l1' }, { dir: d + '/l2' }], upper: d + '/up', work: d + '/wk', mountpoint: d + '/mnt' });`);
    await ns.ok('dd if=/dev/zero of=mnt/synced bs=4k count=4 conv=fsync status=none');
    await ns.js('process.kill(globalThis.m.pid, "SIGKILL"); globalThis.e = await globalThis.m.exited;');
    expect((await ns.sh('stat mnt/d')).stderr).toMatch(/Transport endpoint is not connected/);
    expect(await ns.js('return globalThis.e.signal')).toBe('SIGKILL');
    await ns.js('await globalThis.m.unmount();');
    expect(await ns.ok('cat /proc/self/mountinfo')).not.toContain(`${tmp}/mnt`);
    expect(await ns.ok('stat -c %s up/synced; ls l2/d')).toBe('16384\nkeep\nwh-dev\nwh-file\n');
  });

  it('reports a mount that cannot be made as FUSE_MOUNT, naming the cause', async () => {
    ns = startAgent('single', tmp);
    const err = await ns.js(`
      const { mountUnion } = await imp(${JSON.stringify(join(repo, 'dist/fuse/mount.js'))});
      const d = ${JSON.stringify(tmp)};
      try { await mountUnion({ lowers: [{ dir: d + '/l1' }], upper: d + '/up', work: d + '/wk', mountpoint: d + '/missing' }); }
      catch (e) { return e.code + ': ' + e.message; }`);
    expect(err).toMatch(
      /^FUSE_MOUNT: cannot mount the union at \S*\/missing: failed to access mountpoint \S*\/missing: No such file or directory$/,
    );
  });

  it('refuses a bad command line with a usage message', async () => {
    ns = startAgent('single', tmp);
    const r = await ns.sh(`${hutchFs} -o lowerdir=l1 mnt`);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/hutch-fs: hutch-fs needs -o upperdir=/);
  });
});
