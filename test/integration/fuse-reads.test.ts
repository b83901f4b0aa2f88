// Many readers at once through the shared union daemon (fuse/shared.ts): the kernel then sends READs
// in parallel, and the daemon must give every byte right across two sessions of one daemon while it
// closes node fds under them (more files than it keeps fds for, an fd limit that makes open(2) fail
// EMFILE, a copy-up that replaces a node's fd meanwhile); and end cleanly once its mounts are gone.
// The daemon runs with its second channel (HUTCH_FS_CHANNELS=2, native/fs-channel.c): a thread
// that reads the same mounts' requests from a clone of each /dev/fuse fd.
import { createHash } from 'node:crypto';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EntryKind } from '../../fuse/layer-index.js';
import { requires } from '../helpers/host.js';
import { writeLayer } from '../helpers/layers.js';
import { startAgent, type NsAgent } from '../helpers/userns.js';

const repo = join(import.meta.dirname, '..', '..');
const FILES = 900;
/** The daemon's open files limit: below the 256 fds it keeps for files, so open(2) fails EMFILE and it closes half. */
const NOFILE = 200;

let tmp: string;
let ns: NsAgent;
let daemon: number;

/** File i's content: sizes from empty to 300 KiB (libfuse's small-read copy and its splice, several READs a file). */
function content(i: number): string {
  const size = i % 7 === 0 ? 150_000 + i * 170 : (i * 997) % 20_000;
  let s = '';
  for (let k = 0; s.length < size; k++) s += createHash('sha256').update(`${i}:${k}`).digest('base64');
  return s.slice(0, size);
}
const BIG = 'B'.repeat(4 << 20);

/**
 * Python's look at a file: its cached pages dropped (so the read is READs), read whole, then
 * fstat'ed (the read made the kernel's atime stale: a GETATTR). Gives (mode bits, size, bytes).
 */
const LOOK = `def look(path):
    fd = os.open(path, os.O_RDONLY)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    data = b""
    while True:
        chunk = os.read(fd, 1 << 16)
        if not chunk: break
        data += chunk
    st = os.fstat(fd)
    os.close(fd)
    return st.st_mode & 0o7777, st.st_size, data`;

/** sha256sum lines (`HASH  ./PATH`), sorted by path. */
const sums = (text: string): string[] => text.trim().split('\n').sort();

/** Mounts a union of l1 at dir/NAME through the shared daemon (a holder, as the bench does); its upper is dir/NAME.up. */
async function hold(name: string): Promise<void> {
  const m = join(tmp, name);
  await ns.ok(`mkdir -p ${m} ${m}.up ${m}.wk`);
  const opts = `lowerdir=${tmp}/l1,lowerindex=${tmp}/l1.idx,upperdir=${m}.up,workdir=${m}.wk`;
  await ns.ok(
    `printf '%s\\t%s\\thutch-fs\\t-\\t\\t{"args":["-o","%s","%s"]}\\n' ${tmp}/fsd ${m} ${opts} ${m} |
      ${repo}/native/hutch-fs-holder - >${m}.ready 2>>${tmp}/holder.log &
     for i in $(seq 200); do grep -q ok ${m}.ready && exit 0; sleep 0.05; done; cat ${m}.ready ${tmp}/holder.log; exit 1`,
  );
}

/** Directories of files, symlinks and hard links with modes and owners of their own (the listing tests). */
function attrsTree(): Parameters<typeof writeLayer>[2] {
  const out: Parameters<typeof writeLayer>[2] = [];
  for (let d = 0; d < 6; d++) {
    out.push({ path: `attrs/d${d}`, kind: EntryKind.Dir, mode: d === 4 ? 0o700 : 0o755, uid: d % 2 });
    for (let i = 0; i < 40; i++) {
      const path = `attrs/d${d}/f${i}`;
      if (i % 10 === 9) out.push({ path, kind: EntryKind.Symlink, link: `f${i - 1}` });
      else if (i % 10 === 8) out.push({ path, kind: EntryKind.Hardlink, link: `attrs/d${d}/f${i - 1}` });
      else {
        const mode = [0o644, 0o600, 0o755, 0o4755, 0o444][i % 5]!;
        out.push({ path, kind: EntryKind.File, mode, uid: i % 3, gid: (i + d) % 3, content: 'x'.repeat(i * 37 + d) });
      }
    }
  }
  return out;
}

beforeAll(async () => {
  requires('fuse', 'subuid', 'newuidmap');
  tmp = mkdtempSync(join(tmpdir(), 'hutch-fuse-reads-'));
  chmodSync(tmp, 0o755);
  writeLayer(join(tmp, 'l1'), join(tmp, 'l1.idx'), [
    ...Array.from({ length: FILES }, (_, i) => ({
      path: `many/d${i % 30}/f${i}`,
      kind: EntryKind.File,
      content: content(i),
    })),
    { path: 'big', kind: EntryKind.File, content: BIG },
    ...attrsTree(),
    // One file under three names in three directories (the copy-up test).
    { path: 'links/a/f', kind: EntryKind.File, content: 'linked' },
    { path: 'links/b/g', kind: EntryKind.Hardlink, link: 'links/a/f' },
    { path: 'links/c/h', kind: EntryKind.Hardlink, link: 'links/a/f' },
  ]);
  ns = startAgent('range', tmp);
  // The daemon as shared-union.ts starts it (minus the launcher: the agent is root of its namespace),
  // its exit status written by the shell that waits for it.
  daemon = Number(
    await ns.ok(
      `ulimit -n ${NOFILE}
       (HUTCH_TRACE=${tmp}/fsd.trace HUTCH_FS_CHANNELS=2 HUTCH_FS_LINGER=0 HUTCH_FS_SHARED_SOCKET=${tmp}/fsd HUTCH_FS_SHARED_LOCK=${tmp}/fsd.lock HUTCH_FS_READY_FD=3 \\
         node ${repo}/dist/fuse/daemon-main.js 3>${tmp}/fsd.ready 2>>${tmp}/fsd.log >/dev/null
        echo "exit $?" >>${tmp}/fsd.log) >/dev/null 2>&1 &
       for i in $(seq 200); do pid=$(cat ${tmp}/fsd.pid 2>/dev/null) && [ -n "$pid" ] && grep -q ok ${tmp}/fsd.ready && { echo $pid; exit 0; }; sleep 0.05; done
       cat ${tmp}/fsd.ready ${tmp}/fsd.log; exit 1`,
    ),
  );
  await hold('a');
  await hold('b');
});

afterAll(async () => {
  if (ns !== undefined) {
    await ns.sh(`umount ${tmp}/a ${tmp}/b; rm -rf ${tmp}/*.up ${tmp}/*.wk`);
    await ns.close();
  }
  if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
});

describe('many readers at once through the shared daemon', () => {
  it('gives every byte right to eight readers at once, in two sessions of one daemon, under fd evictions', async () => {
    const want = sums(await ns.ok(`cd ${tmp}/l1/many && find . -type f -print0 | xargs -0 sha256sum`));
    expect(want).toHaveLength(FILES);
    for (const m of ['a', 'b']) {
      const got = sums(await ns.ok(`cd ${tmp}/${m}/many && find . -type f -print0 | xargs -0 -n 20 -P 8 sha256sum`));
      expect(got).toEqual(want);
    }
    expect(readFileSync(`/proc/${daemon}/limits`, 'utf8')).toMatch(new RegExp(`Max open files +${NOFILE} `));
    const threads = readdirSync(`/proc/${daemon}/task`).map((t) =>
      readFileSync(`/proc/${daemon}/task/${t}/comm`, 'utf8'),
    );
    expect(threads).toContain('hutch-fs-second\n');
  });

  it('gives readers of a lower file its bytes while a writer copies it up (its fd replaced under READs in flight)', async () => {
    // Each reader drops the file's cached pages before each read, so every read is READs again.
    const out = await ns.ok(
      `python3 - <<'PY'
import os, threading
path = "${tmp}/a/big"
size = ${BIG.length}
bad = []
def reader():
    for _ in range(12):
        fd = os.open(path, os.O_RDONLY)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        data = b""
        while len(data) < size:
            chunk = os.pread(fd, 1 << 20, len(data))
            if not chunk: break
            data += chunk
        os.close(fd)
        if data[:size] != b"B" * size: bad.append(len(data))
ts = [threading.Thread(target=reader) for _ in range(4)]
for t in ts: t.start()
for k in range(20):
    with open(path, "ab") as f: f.write(b"tail%d" % k)
for t in ts: t.join()
print(len(bad), os.path.getsize(path) - size)
PY`,
    );
    expect(out).toBe(`0 ${'tail0'.length * 10 + 'tail10'.length * 10}\n`);
    expect(readFileSync(join(tmp, 'a.up', 'big'), 'latin1').slice(BIG.length)).toBe(
      Array.from({ length: 20 }, (_, k) => `tail${k}`).join(''),
    );
  });

  it('keeps answers true on both channels: each change a caller made is seen by its next read and fstat while four readers keep the daemon busy', async () => {
    // Four readers read and fstat the same lower files without a pause, so requests come while the
    // JS thread serves (the second channel's thread reads them: native/fs-channel.c) and the JS
    // thread publishes their attributes again and again. The main thread changes each file in turn
    // (a chmod, or an append: a copy-up either way), then reads it (its cached pages dropped: READs)
    // and fstats it (a GETATTR): both must give the new file, never an answer published before.
    const out = await ns.ok(
      `python3 - <<'PY'
import os, signal
files = ["${tmp}/b/many/d%d/f%d" % (i % 30, i) for i in range(100, 160)]
${LOOK}
readers = []
for k in range(4):
    pid = os.fork()
    if pid == 0:
        while True:
            for p in files[k::4]: look(p)
    readers.append(pid)
bad = []
try:
    for i, p in enumerate(files):
        mode, size, data = look(p)
        if i % 2 == 0:
            os.chmod(p, 0o600)
            want = (0o600, size, data)
        else:
            with open(p, "ab") as f: f.write(b"-more-")
            want = (mode, size + 6, data + b"-more-")
        got = look(p)
        if got != want: bad.append((p, got[:2], want[:2], got[2][-6:]))
finally:
    for pid in readers:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
print(len(bad), bad[:3])
PY`,
    );
    expect(out.trim()).toBe('0 []');
  });

  it('answers from C only while a lower file is as published: a chmod, an append and a truncate are seen at once', async () => {
    // Each step reads the file with its cached pages dropped (READs), then fstats it: a read marks
    // the kernel's atime stale, so the fstat is a GETATTR. b's copy (another session) stays as it was.
    const script = (m: string): string => `python3 - <<'PY'
import os
${LOOK}
def show(path):
    mode, size, data = look(path)
    return "%o %d %d %s" % (mode, size, len(data), data[-6:].decode())
p = "${tmp}/${m}/many/d3/f3"
print(show(p))
${
  m === 'a'
    ? `os.chmod(p, 0o600)
print(show(p))
with open(p, "ab") as f: f.write(b"-more-")
print(show(p))
os.truncate(p, 6)
print(show(p))`
    : ''
}
PY`;
    const size = content(3).length;
    const tail = content(3).slice(-6);
    expect((await ns.ok(script('a'))).trim().split('\n')).toEqual([
      `644 ${size} ${size} ${tail}`,
      `600 ${size} ${size} ${tail}`,
      `600 ${size + 6} ${size + 6} -more-`,
      `600 6 6 ${content(3).slice(0, 6)}`,
    ]);
    expect((await ns.ok(script('b'))).trim()).toBe(`644 ${size} ${size} ${tail}`);
  });

  it('gives with a listing what a LOOKUP gives (READDIRPLUS): a walk that stats every name sees each as a path lookup does', async () => {
    // The same changes in both sessions: an upper file (hard linked: nlink 2), a symlink, a
    // directory, a removed lower file (a whiteout), a chmod (a copy-up).
    const change = (m: string): string =>
      `cd ${tmp}/${m}/attrs && echo new >d2/new && ln d2/new d2/new2 && ln -s f1 d2/newlink && mkdir d3/sub &&
       rm d3/f1 && chmod 640 d5/f2 && touch -h -d @1700000000 d2/new d2/newlink d3/sub d5/f2 d2 d3`;
    await ns.ok(`${change('a')} && ${change('b')}`);
    // a: one process lists each directory, then lstats every name of it (its first file's LOOKUP
    // tells the daemon this process looks at files: the next listings carry the files' entries).
    const walk = await ns.ok(`cd ${tmp}/a && python3 - <<'PY'
import os
for root, dirs, files in os.walk("attrs"):
    for e in sorted(os.scandir(root), key=lambda e: e.name):
        st = os.lstat(e.path)
        print(e.path, oct(st.st_mode), st.st_uid, st.st_gid, st.st_size, st.st_nlink, st.st_mtime_ns, e.inode() == st.st_ino)
PY`);
    const lines = walk.trim().split('\n').sort();
    expect(lines).toHaveLength(6 + 6 * 40 + 3 + 1 - 1); // d0-d5, their names, new ones, sub, less f1
    expect(lines.every((l) => l.endsWith(' True'))).toBe(true);
    // b: the same names, each lstat'ed by its path with no listing before (a LOOKUP for each).
    const paths = lines.map((l) => l.split(' ')[0]!);
    const looked = await ns.ok(`cd ${tmp}/b && python3 - <<'PY'
import os
for p in """${paths.join(' ')}""".split():
    st = os.lstat(p)
    print(p, oct(st.st_mode), st.st_uid, st.st_gid, st.st_size, st.st_nlink, st.st_mtime_ns)
PY`);
    expect(looked.trim().split('\n')).toEqual(lines.map((l) => l.replace(/ True$/, '')));
  });

  it("leaves each directory's times as they were when a copy-up puts a file there, its other names' directories too", async () => {
    // A chmod copies links/a/f up; with the index, its other names g and h are linked to the copy in
    // links/b and links/c (each copied up first). None of the three directories changed: their
    // times stay the lower's, in the upper layer and through the mount (b and c looked up afresh).
    const out = await ns.ok(`cd ${tmp}/a/links && chmod 640 a/f && python3 - <<'PY'
import os
for p in ["a", "b", "c", "b/g", "c/h"]:
    st = os.lstat(p)
    print(p, st.st_mtime_ns, oct(st.st_mode), st.st_nlink, st.st_ino == os.lstat("a/f").st_ino)
PY`);
    const times = (d: string): string => String(statSync(d, { bigint: true }).mtimeNs);
    const seen = Object.fromEntries(
      out
        .trim()
        .split('\n')
        .map((l) => [l.split(' ')[0], l.split(' ').slice(1).join(' ')]),
    );
    for (const d of ['a', 'b', 'c']) {
      const lower = times(join(tmp, 'l1', 'links', d));
      expect(times(join(tmp, 'a.up', 'links', d)), `upper links/${d}`).toBe(lower);
      expect(seen[d]!.split(' ')[0], `links/${d} through the mount`).toBe(lower);
    }
    expect([seen['b/g'], seen['c/h']].map((s) => s!.split(' ').slice(1).join(' '))).toEqual([
      '0o100640 3 True',
      '0o100640 3 True',
    ]);
  });

  it('ends a session unmounted under four readers on both channels, and serves the others on', async () => {
    // c's requests are read by both threads (and some handed over) when its mount goes: each fd
    // then reads ENODEV, the loop ends the session (closing the clone, dropping what was handed)
    // and goes on serving a.
    await hold('c');
    const out = await ns.ok(`cd ${tmp} && python3 - <<'PY'
import os, time
files = ["c/many/d%d/f%d" % (i % 30, i) for i in range(300, 400)]
readers = []
for k in range(4):
    pid = os.fork()
    if pid == 0:
        try:
            while True:
                for p in files[k::4]:
                    with open(p, "rb") as f: f.read()
        except OSError:
            os._exit(0)
    readers.append(pid)
time.sleep(0.5)
os.system("umount -l c")
print(sorted(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in readers))
PY`);
    expect(out.trim()).toBe('[0, 0, 0, 0]');
    // Its session ended (a and b are still mounted: the only end so far is c's).
    await ns.ok(
      `for i in $(seq 200); do grep -q 'fs shared session end' ${tmp}/fsd.trace && exit 0; sleep 0.05; done; exit 1`,
    );
    const want = await ns.ok(`sha256sum <${tmp}/l1/many/d7/f7`);
    expect(await ns.ok(`sha256sum <${tmp}/a/many/d7/f7`)).toBe(want);
    expect(readFileSync(join(tmp, 'fsd.log'), 'utf8')).not.toMatch(/unexpected error|^exit/m);
  });

  it('ends the daemon cleanly once its mounts are gone', async () => {
    // Twenty-one new directories, each listed once: the READDIR(PLUS) at each listing's end is
    // answered in C (fs-fast.c serve_listing_end), and every name is listed.
    const names = await ns.ok(
      `cd ${tmp}/a && mkdir -p $(seq -f fresh/d%g 20) && touch fresh/d7/f && find fresh | sort | tr '\\n' ' '`,
    );
    expect(names.trim().split(' ')).toHaveLength(22);
    expect(names).toContain('fresh/d7/f');
    await ns.ok(`umount ${tmp}/a`);
    await ns.ok(`umount ${tmp}/b`);
    await ns.ok(`for i in $(seq 200); do grep -q '^exit' ${tmp}/fsd.log && exit 0; sleep 0.05; done; exit 1`);
    const log = readFileSync(join(tmp, 'fsd.log'), 'utf8');
    expect(log).not.toMatch(/unexpected error|warning/);
    expect(log.trim().split('\n').at(-1)).toBe('exit 0');
    // The lower files' GETATTRs and READs were answered in C (native/fs-fast.c).
    const ends = [
      ...readFileSync(join(tmp, 'fsd.trace'), 'utf8').matchAll(
        /, (\d+) answered in C so far, (\d+) of them on the second channel, (\d+) listings' ends/g,
      ),
    ];
    // The listings of a/fresh ended in C: between c's session end and the last (a's, then b's).
    expect(Number(ends.at(-1)?.[3]) - Number(ends.at(-3)?.[3])).toBeGreaterThanOrEqual(21);
    expect(Number(ends.at(-1)?.[1])).toBeGreaterThan(FILES);
    // Some of them on the second channel (HUTCH_FS_CHANNELS=2: native/fs-channel.c), by its thread.
    expect(Number(ends.at(-1)?.[2])).toBeGreaterThan(0);
    // a's listings of attrs/ carried the entries of all but the first directory's files.
    const given = [...readFileSync(join(tmp, 'fsd.trace'), 'utf8').matchAll(/, (\d+) entries given with listings/g)];
    expect(Math.max(...given.map((g) => Number(g[1])))).toBeGreaterThan(4 * 40);
  });
});
