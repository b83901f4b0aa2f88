// The union filesystem mounted for real, as the unprivileged test user inside a user namespace
// (root mapped to the user, uids 1.. to its subuid range), over indexed layers built here.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EntryKind, OPAQUE } from '../../fuse/layer-index.js';
import { requires } from '../helpers/host.js';
import { writeLayer } from '../helpers/layers.js';
import { startAgent, type NsAgent } from '../helpers/userns.js';

const repo = join(import.meta.dirname, '..', '..');
let tmp: string;
let ns: NsAgent;
const M = (): string => join(tmp, 'mnt');
// 3.2 MB of numbered lines: any byte read from a wrong offset shows.
const BIG = Array.from({ length: 400_000 }, (_, i) => `${String(i).padStart(7, '0')}\n`).join('');
const py = (code: string): string => `python3 -c '${code.replace(/'/g, `'"'"'`)}'`;

function buildLayers(root: string): void {
  writeLayer(join(root, 'l2'), join(root, 'l2.idx'), [
    { path: 'etc', kind: EntryKind.Dir },
    { path: 'etc/passwd', kind: EntryKind.File, content: 'root:x:0:0::/root:/bin/sh\n' },
    { path: 'etc/shadow', kind: EntryKind.File, content: 'secret\n', mode: 0o640, gid: 42 },
    { path: 'etc/os-release', kind: EntryKind.File, content: 'bottom\n' },
    { path: 'usr/bin/tool', kind: EntryKind.File, content: '#!/bin/sh\necho tool\n', mode: 0o4755 },
    { path: 'home/user', kind: EntryKind.Dir, mode: 0o700, uid: 1000, gid: 1000 },
    { path: 'home/user/notes', kind: EntryKind.File, content: 'mine\n', mode: 0o600, uid: 1000, gid: 1000 },
    { path: 'hl/a', kind: EntryKind.File, content: 'linked\n' },
    { path: 'hl/b', kind: EntryKind.Hardlink, link: 'hl/a' },
    { path: 'dev/null', kind: EntryKind.Char, rdev: (1 << 8) | 3, mode: 0o666 },
    { path: 'sym', kind: EntryKind.Symlink, link: 'etc/passwd' },
    { path: 'gone/x', kind: EntryKind.File, content: 'x' },
    { path: 'opq/old', kind: EntryKind.File, content: 'old' },
    { path: 'xa', kind: EntryKind.File, content: 'xa', xattrs: { 'user.test': 'hello' } },
    { path: 'ren/sub/deep', kind: EntryKind.File, content: 'deep\n' },
    { path: 'ren/top', kind: EntryKind.File, content: 'top\n' },
    { path: 'tree/a/b/c', kind: EntryKind.File, content: 'c' },
    { path: 'tree/a/d', kind: EntryKind.File, content: 'd' },
    { path: 'fifo', kind: EntryKind.Fifo },
    { path: 'data', kind: EntryKind.File, content: 'lower data\n' },
    { path: 'shared', kind: EntryKind.File, content: 'old\n' },
    { path: 'usr/trunc', kind: EntryKind.File, content: 'to be cut\n', mode: 0o640, uid: 3 },
    { path: 'db/status', kind: EntryKind.File, content: 's0\n' },
    { path: 'db/status-old', kind: EntryKind.File, content: 'old\n' },
  ]);
  writeLayer(join(root, 'l1'), join(root, 'l1.idx'), [
    { path: 'gone', kind: EntryKind.Whiteout },
    { path: 'opq', kind: EntryKind.Dir, flags: OPAQUE },
    { path: 'opq/new', kind: EntryKind.File, content: 'new' },
    { path: 'etc/os-release', kind: EntryKind.File, content: 'top\n' },
    { path: 'etc/hostname', kind: EntryKind.File, content: 'box\n' },
    { path: 'big', kind: EntryKind.File, content: BIG },
    { path: 'big2', kind: EntryKind.File, content: BIG },
  ]);
}

beforeAll(async () => {
  requires('fuse', 'subuid', 'newuidmap', 'busybox');
  tmp = mkdtempSync(join(tmpdir(), 'hutch-fuse-'));
  chmodSync(tmp, 0o755); // the container's other users must reach the mount point
  buildLayers(tmp);
  ns = startAgent('range', tmp);
  await ns.ok(`mkdir -p mnt upper work`);
  await ns.js(`
    const { mountUnion } = await imp(${JSON.stringify(join(repo, 'dist/fuse/mount.js'))});
    const d = ${JSON.stringify(tmp)};
    globalThis.m = await mountUnion({ lowers: [{ dir: d + '/l1', indexFile: d + '/l1.idx' }, { dir: d + '/l2', indexFile: d + '/l2.idx' }],
      upper: d + '/upper', work: d + '/work', mountpoint: d + '/mnt' });
    globalThis.m.exited.then((e) => { globalThis.died = e; });`);
});

afterAll(async () => {
  if (ns !== undefined) {
    await ns.js(`await globalThis.m?.unmount();`).catch(() => undefined);
    const mounts = await ns.ok('cat /proc/self/mountinfo');
    // The upper layer holds files of mapped users: only the namespace's root may remove them.
    await ns.ok(`rm -rf ${tmp}/upper ${tmp}/work`);
    expect(mounts).not.toContain(tmp);
    await ns.close();
  }
  if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
});

describe('union filesystem over indexed layers', () => {
  it('merges lookups and listings through whiteouts and opaque directories', async () => {
    expect((await ns.ok(`ls -a ${M()}`)).split('\n').filter(Boolean).sort()).toEqual(
      [
        '.',
        '..',
        'big',
        'big2',
        'data',
        'db',
        'dev',
        'etc',
        'fifo',
        'hl',
        'home',
        'opq',
        'ren',
        'shared',
        'sym',
        'tree',
        'usr',
        'xa',
      ].sort(),
    );
    expect(await ns.ok(`ls ${M()}/etc`)).toBe('hostname\nos-release\npasswd\nshadow\n');
    expect(await ns.ok(`cat ${M()}/etc/os-release ${M()}/etc/hostname`)).toBe('top\nbox\n');
    expect(await ns.ok(`ls -a ${M()}/opq`)).toBe('.\n..\nnew\n');
    expect((await ns.sh(`cat ${M()}/gone/x`)).status).not.toBe(0);
    expect(await ns.ok(`readlink ${M()}/sym; cat ${M()}/sym`)).toBe('etc/passwd\nroot:x:0:0::/root:/bin/sh\n');
  });

  it('presents ownership, modes and devices from the index', async () => {
    const st = (p: string): Promise<string> => ns.ok(`stat -c '%u:%g:%a:%F' ${M()}/${p}`);
    expect(await st('etc/shadow')).toBe('0:42:640:regular file\n');
    expect(await st('usr/bin/tool')).toBe('0:0:4755:regular file\n');
    expect(await st('home/user')).toBe('1000:1000:700:directory\n');
    expect(await st('fifo')).toBe('0:0:644:fifo\n');
    expect(await ns.ok(`stat -c '%F %t:%T' ${M()}/dev/null`)).toBe('character special file 1:3\n');
    expect(await ns.ok(`stat -c %Y.%y ${M()}/data`)).toMatch(/^1700000000\..*\.123456/);
  });

  it('checks permissions as the kernel would (default_permissions)', async () => {
    expect((await ns.sh(`setpriv --reuid 1000 --regid 1000 --clear-groups cat ${M()}/etc/shadow`)).stderr).toMatch(
      /Permission denied/,
    );
    expect(await ns.ok(`setpriv --reuid 1000 --regid 1000 --clear-groups cat ${M()}/home/user/notes`)).toBe('mine\n');
    expect(
      await ns.ok(
        `setpriv --reuid 1000 --regid 1000 --clear-groups sh -c 'echo n > ${M()}/home/user/new; stat -c %u:%g ${M()}/home/user/new'`,
      ),
    ).toBe('1000:1000\n');
  });

  it('copies up on write, chmod, chown, utimes and setxattr, leaving the layer untouched', async () => {
    await ns.ok(
      `echo more >> ${M()}/data && chmod 600 ${M()}/etc/passwd && chown 7:8 ${M()}/etc/os-release && touch -d @1600000000 ${M()}/hl/a`,
    );
    expect(await ns.ok(`cat ${M()}/data`)).toBe('lower data\nmore\n');
    expect(
      await ns.ok(`stat -c %a ${M()}/etc/passwd; stat -c %u:%g ${M()}/etc/os-release; stat -c %Y ${M()}/hl/a`),
    ).toBe('600\n7:8\n1600000000\n');
    expect(await ns.ok(`stat -c %u:%g ${tmp}/upper/etc/os-release`)).toBe('7:8\n');
    await ns.ok(`chown -h 5:5 ${M()}/sym && mkfifo ${M()}/fifo2 && chmod 700 ${M()}/ren/sub`);
    expect(await ns.ok(`stat -c %a ${M()}/ren/sub; cat ${M()}/ren/sub/deep`)).toBe('700\ndeep\n');
    expect(readFileSync(join(tmp, 'l2/data'), 'utf8')).toBe('lower data\n');
    expect(existsSync(join(tmp, 'upper/ren/sub/deep'))).toBe(false);
  });

  it('keeps inode numbers across copy-up and shares them between hard links', async () => {
    const before = await ns.ok(`stat -c %i ${M()}/xa`);
    await ns.ok(`echo x >> ${M()}/xa`);
    expect(await ns.ok(`stat -c %i ${M()}/xa`)).toBe(before);
    const a = await ns.ok(`stat -c %i ${M()}/tree/a/d`);
    await ns.ok(`ln ${M()}/tree/a/d ${M()}/tree/d2`);
    expect(await ns.ok(`stat -c %i:%h ${M()}/tree/d2; stat -c %i:%h ${M()}/tree/a/d`)).toBe(
      `${a.trim()}:2\n${a.trim()}:2\n`,
    );
    // hl/a was copied up above: as with overlayfs's index=on, hl/b stays the same file.
    expect(await ns.ok(`stat -c %i:%h ${M()}/hl/b`)).toBe(await ns.ok(`stat -c %i:%h ${M()}/hl/a`));
    expect(await ns.ok(`stat -c %h ${M()}/hl/a; echo more >> ${M()}/hl/a; cat ${M()}/hl/b`)).toBe('2\nlinked\nmore\n');
    expect(readFileSync(join(tmp, 'l2/hl/b'), 'utf8')).toBe('linked\n');
  });

  it("keeps the other name of a hard link renamed over or removed, over lower names (dpkg's status-old)", async () => {
    const step = 'rm status-old && ln status status-old && echo $i > status-new && mv status-new status';
    await ns.ok(
      `cd ${M()}/db && for i in 1 2; do ${step}; done && ln status status-old2 && rm status-old && ln status status-old`,
    );
    expect(
      await ns.ok(
        `cd ${M()}/db && ls && cat status status-old && stat -c %h status status-old2 && rm status-old && ls`,
      ),
    ).toBe('status\nstatus-old\nstatus-old2\n2\n2\n3\n3\nstatus\nstatus-old2\n');
  });

  it('removes lower entries with whiteouts, and re-creates over them', async () => {
    await ns.ok(`rm ${M()}/hl/b && rm -r ${M()}/tree/a && rmdir ${M()}/tree/ 2>/dev/null || true`);
    expect(await ns.ok(`ls -a ${M()}/hl`)).toBe('.\n..\na\n');
    expect(await ns.ok(`ls ${M()}/tree`)).toBe('d2\n');
    await ns.ok(`mkdir ${M()}/tree/a && echo again > ${M()}/hl/b`);
    expect(await ns.ok(`ls -a ${M()}/tree/a; cat ${M()}/hl/b`)).toBe('.\n..\nagain\n');
    expect(existsSync(join(tmp, 'l2/tree/a/b/c'))).toBe(true);
  });

  it('renames lower directories and files, over existing entries, with NOREPLACE and EXCHANGE', async () => {
    await ns.ok(`mv ${M()}/ren ${M()}/ren2`);
    expect(await ns.ok(`ls -a ${M()}/ren2 ${M()}/ren2/sub; cat ${M()}/ren2/sub/deep`)).toBe(
      `${M()}/ren2:\n.\n..\nsub\ntop\n\n${M()}/ren2/sub:\n.\n..\ndeep\ndeep\n`,
    );
    expect((await ns.sh(`ls ${M()}/ren`)).status).not.toBe(0);
    await ns.ok(`mv ${M()}/etc/hostname ${M()}/etc/passwd && cat ${M()}/etc/passwd`);
    expect(await ns.ok(`ls ${M()}/etc`)).toBe('os-release\npasswd\nshadow\n');
    await ns.ok(`echo 1 > ${M()}/x1 && echo 2 > ${M()}/x2`);
    const r = await ns.sh(
      py(
        `import ctypes,os;l=ctypes.CDLL(None,use_errno=True);r=l.renameat2(-100,b"${M()}/x1",-100,b"${M()}/x2",1);print(r,ctypes.get_errno());r=l.renameat2(-100,b"${M()}/x1",-100,b"${M()}/x2",2);print(r);print(open("${M()}/x1").read().strip(),open("${M()}/x2").read().strip())`,
      ),
    );
    expect(r.stdout).toBe('-1 17\n0\n2 1\n');
  });

  it('keeps open files working after unlink, and honours O_APPEND, O_TRUNC and O_EXCL', async () => {
    const out = await ns.ok(
      py(`
import os
p="${M()}/etc/shadow"
fd=os.open(p,os.O_RDONLY); os.unlink(p); print(os.read(fd,100).decode().strip(), os.fstat(fd).st_size); os.close(fd)
p="${M()}/open.txt"
fd=os.open(p,os.O_CREAT|os.O_RDWR,0o644); os.write(fd,b"hello"); os.unlink(p); os.lseek(fd,0,0); print(os.read(fd,10).decode(), os.path.exists(p)); os.close(fd)
p="${M()}/ap"
open(p,"w").write("a")
fd=os.open(p,os.O_WRONLY|os.O_APPEND); os.lseek(fd,0,0); os.write(fd,b"b"); os.close(fd)
fd=os.open(p,os.O_WRONLY|os.O_APPEND); os.write(fd,b"c"); os.close(fd); print(open(p).read())
fd=os.open("${M()}/etc/os-release",os.O_WRONLY|os.O_TRUNC); os.close(fd); print(os.stat("${M()}/etc/os-release").st_size)
try:
  os.open("${M()}/data",os.O_CREAT|os.O_EXCL|os.O_WRONLY)
except FileExistsError: print("EEXIST")
`),
    );
    expect(out).toBe('secret 7\nhello False\nabc\n0\nEEXIST\n');
    await ns.ok(`truncate -s 0 ${M()}/usr/trunc`);
    expect(await ns.ok(`stat -c %s:%a:%u ${M()}/usr/trunc`)).toBe('0:640:3\n');
    expect(readFileSync(join(tmp, 'l2/usr/trunc'), 'utf8')).toBe('to be cut\n');
  });

  it('shows a reader of a lower file what another process wrote, through copy-up and rename', async () => {
    const out = await ns.ok(
      py(`
import os
p="${M()}/shared"
r=os.open(p,os.O_RDONLY); a=os.read(r,3)
w=os.open(p,os.O_WRONLY); os.write(w,b"new"); os.close(w)
os.lseek(r,0,0); b=os.read(r,3)
os.rename(p,p+".moved"); os.lseek(r,0,0); c=os.read(r,3); os.close(r)
print(a.decode(),b.decode(),c.decode(),open(p+".moved").read().strip())
`),
    );
    expect(out).toBe('old new new new\n');
    expect(readFileSync(join(tmp, 'l2/shared'), 'utf8')).toBe('old\n');
  });

  it('passes user xattrs through and hides its own', async () => {
    const out = await ns.ok(
      py(`
import os
p="${M()}/xa"
print(os.getxattr(p,"user.test").decode())
os.setxattr(p,"user.new",b"v"); print(sorted(os.listxattr(p)))
try: os.setxattr(p,"trusted.overlay.opaque",b"y")
except OSError as e: print(e.errno)
os.chown("${M()}/etc/passwd",3,4); print(os.listxattr("${M()}/etc/passwd"))
import struct; v=struct.pack("<IIIII",0x02000001,1<<13,0,0,0)
os.setxattr("${M()}/usr/bin/tool","security.capability",v); print(os.getxattr("${M()}/usr/bin/tool","security.capability")==v)
`),
    );
    expect(out).toBe(`hello\n['user.new', 'user.test']\n1\n[]\nTrue\n`);
    expect(await ns.ok(`stat -f -c %b:%S ${M()}`)).toBe(await ns.ok(`stat -f -c %b:%S ${tmp}/upper`));
  });

  it('serves shared and private mmap', async () => {
    const out = await ns.ok(
      py(`
import mmap,os
p="${M()}/mm"; open(p,"wb").write(b"0"*8192)
with open(p,"r+b") as f:
  m=mmap.mmap(f.fileno(),8192); m[0:5]=b"share"; m.flush(); m.close()
with open(p,"r+b") as f:
  m=mmap.mmap(f.fileno(),8192,flags=mmap.MAP_PRIVATE); m[0:5]=b"priv!"; m.close()
print(open(p,"rb").read(5).decode())
with open("${M()}/usr/bin/tool","rb") as f:
  m=mmap.mmap(f.fileno(),0,prot=mmap.PROT_READ); print(m[:9]); m.close()
`),
    );
    expect(out).toBe(`share\nb'#!/bin/sh'\n`);
  });

  it('keeps POSIX and flock locks local to the mount', async () => {
    const lock = (kind: string): string =>
      py(`
import fcntl,os,subprocess,sys
p="${M()}/lockfile"; f=open(p,"w")
${kind === 'flock' ? 'fcntl.flock(f,fcntl.LOCK_EX)' : 'fcntl.lockf(f,fcntl.LOCK_EX)'}
r=subprocess.run([sys.executable,"-c","import fcntl;f=open(\\"%s\\",\\"w\\");\\ntry:\\n fcntl.${kind === 'flock' ? 'flock' : 'lockf'}(f,fcntl.LOCK_EX|fcntl.LOCK_NB);print(\\"got\\")\\nexcept OSError: print(\\"busy\\")" % p],capture_output=True,text=True)
print(r.stdout.strip())
`);
    expect(await ns.ok(lock('flock'))).toBe('busy\n');
    expect(await ns.ok(lock('lockf'))).toBe('busy\n');
  });

  it('handles a sparse file larger than 4 GiB', async () => {
    await ns.ok(
      `truncate -s 5G ${M()}/sparse && printf end | dd of=${M()}/sparse bs=1 seek=4831838208 conv=notrunc status=none`,
    );
    expect(
      await ns.ok(
        `stat -c %s ${M()}/sparse; dd if=${M()}/sparse bs=1 skip=4831838208 count=3 status=none; echo; du -k ${M()}/sparse | cut -f1; rm ${M()}/sparse`,
      ),
    ).toMatch(/^5368709120\nend\n\d{1,3}\n$/);
  });

  it('strips setuid on write by another user, as the kernel does', async () => {
    await ns.ok(`cp ${M()}/usr/bin/tool ${M()}/suid && chmod 6777 ${M()}/suid`);
    await ns.ok(`setpriv --reuid 1000 --regid 1000 --clear-groups sh -c 'echo x >> ${M()}/suid'`);
    expect(await ns.ok(`stat -c %a ${M()}/suid`)).toBe('777\n');
  });

  it('reads a lower file byte for byte in large and odd-sized reads, to its end', async () => {
    const sha = createHash('sha256').update(BIG).digest('hex');
    expect(await ns.ok(`dd if=${M()}/big bs=1M status=none | sha256sum`)).toBe(`${sha}  -\n`);
    // Reads at offsets that are not page-aligned, and one past the end of the file.
    expect(await ns.ok(`dd if=${M()}/big2 bs=4097 skip=700 count=2 status=none`)).toBe(
      BIG.slice(4097 * 700, 4097 * 702),
    );
    expect(await ns.ok(`tail -c 16 ${M()}/big2; dd if=${M()}/big2 bs=1 skip=${BIG.length} status=none | wc -c`)).toBe(
      `${BIG.slice(-16)}0\n`,
    );
  });

  it('answers bad requests with an errno and keeps serving', async () => {
    const long = 'n'.repeat(300);
    expect((await ns.sh(`touch ${M()}/${long}`)).stderr).toMatch(/too long/i);
    expect((await ns.sh(`touch ${M()}/.wh.sneaky`)).status).not.toBe(0);
    expect((await ns.sh(`touch ${M()}/${('d'.repeat(200) + '/').repeat(25)}x`)).status).not.toBe(0);
    expect(await ns.ok(`cat ${M()}/etc/os-release; stat -c %s ${M()}/data`)).toBe('16\n');
  });

  it('keeps names that are not UTF-8 byte for byte', async () => {
    const out = await ns.ok(
      py(`
import os
d=b"${M()}/bytes"; os.mkdir(d); n=b"caf\\xe9-\\xff\\xfe"
open(d+b"/"+n,"w").write("x"); os.rename(d+b"/"+n, d+b"/"+n+b"2")
print(os.listdir(d)==[n+b"2"], open(d+b"/"+n+b"2").read(), os.path.exists(d+b"/"+n))
`),
    );
    expect(out).toBe('True x False\n');
  });

  it('takes concurrent writers', async () => {
    await ns.ok(
      `for i in 1 2 3 4; do (for j in $(seq 500); do echo "$i $j" >> ${M()}/shared.log; done; seq 2000 > ${M()}/own.$i) & done; wait`,
    );
    expect(await ns.ok(`wc -l < ${M()}/shared.log; cat ${M()}/own.* | wc -l`)).toBe('2000\n8000\n');
  });

  it('lists a directory of thousands of entries, merged, across many readdir calls', async () => {
    await ns.ok(`mkdir ${M()}/usr/many && cd ${M()}/usr/many && seq 3000 | xargs touch`);
    expect(await ns.ok(`ls -a ${M()}/usr/many | wc -l; ls ${M()}/usr | tr '\\n' ' '`)).toBe('3002\nbin many trunc ');
  });

  it('runs busybox tar, sh and find over the tree', async () => {
    const bb = '/bin/busybox';
    const found = Number(await ns.ok(`${bb} find ${M()} | wc -l`));
    const tarred = Number(await ns.ok(`cd ${M()} && ${bb} tar cf - . | ${bb} tar tf - | wc -l`));
    expect(tarred).toBe(found);
    await ns.ok(
      `cd ${M()} && ${bb} tar cf ${tmp}/t.tar usr etc && mkdir untar && cd untar && ${bb} tar xf ${tmp}/t.tar && ${bb} sh -c 'test "$(cat etc/hostname 2>/dev/null || cat etc/passwd)" != ""'`,
    );
  });

  it('runs SQLite (locks, fsync, journal renames) with an intact database', async () => {
    const db = `${M()}/etc/app.db`;
    await ns.ok(
      `sqlite3 ${db} 'PRAGMA journal_mode=WAL; CREATE TABLE t(x); WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i<5000) INSERT INTO t SELECT i FROM c;'`,
    );
    await ns.ok(
      // Both wait for the other's lock (a writer without a timeout failed SQLITE_BUSY once, silently:
      // a bare `wait` hid its status); the writer's status is the command's.
      `(sqlite3 ${db} '.timeout 5000' 'BEGIN; UPDATE t SET x=x+1; COMMIT;' & w=$!; sqlite3 ${db} '.timeout 5000' 'SELECT count(*) FROM t;' >/dev/null; wait $w)`,
    );
    expect(await ns.ok(`sqlite3 ${db} 'PRAGMA integrity_check; SELECT sum(x) FROM t;'`)).toBe('ok\n12507500\n');
  });

  it('makes fsynced data durable in the upper layer', async () => {
    await ns.ok(`dd if=/dev/urandom of=${M()}/durable bs=64k count=16 conv=fsync status=none && sync`);
    expect(await ns.ok(`cmp ${M()}/durable ${tmp}/upper/durable && echo same`)).toBe('same\n');
  });
});
