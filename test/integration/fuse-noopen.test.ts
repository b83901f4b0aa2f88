// Files with no OPEN or RELEASE (fuse/nodefd.ts): the daemon reads and writes each file through
// an fd of its own, so what an open used to do must still happen: copy-up at the first write,
// O_TRUNC, data of a file unlinked or replaced while open, several opens of one file, more files
// open than the daemon keeps fds for. Indexed lower layers, as the store's.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EntryKind } from '../../fuse/layer-index.js';
import { requires } from '../helpers/host.js';
import { writeLayer } from '../helpers/layers.js';
import { startAgent, type NsAgent } from '../helpers/userns.js';
import { endUnionAgent, mountIndexedUnion } from '../helpers/union-agent.js';

let tmp: string;
let ns: NsAgent;
let daemon: number;
const M = (): string => join(tmp, 'mnt');
/** A python script run in the namespace, what it prints returned. */
const py = (body: string): Promise<string> => ns.ok(`python3 -c '\nimport os\n${body}'`);
const lowerFiles = ['written', 'trunc', 'unlinked', 'unlinked-w', 'replaced', 'twice', 'mapped'];

beforeAll(async () => {
  requires('fuse', 'subuid', 'newuidmap');
  tmp = mkdtempSync(join(tmpdir(), 'hutch-fuse-noopen-'));
  chmodSync(tmp, 0o755);
  writeLayer(join(tmp, 'l1'), join(tmp, 'l1.idx'), [
    { path: 'd', kind: EntryKind.Dir },
    ...lowerFiles.map((f) => ({ path: `d/${f}`, kind: EntryKind.File, content: `lower ${f}\n`, mode: 0o644 })),
    ...Array.from({ length: 600 }, (_, i) => ({ path: `many/f${i}`, kind: EntryKind.File, content: `file ${i}\n` })),
  ]);
  ns = startAgent('range', tmp);
  daemon = await mountIndexedUnion(ns, tmp);
});

afterAll(() => endUnionAgent(ns, tmp));

/** What the daemon's open fds name under the test's directory (its layers, upper and work). */
function daemonFiles(): string[] {
  return readdirSync(`/proc/${daemon}/fd`)
    .map((fd) => {
      try {
        return readlinkSync(`/proc/${daemon}/fd/${fd}`);
      } catch {
        return ''; // closed meanwhile
      }
    })
    .filter((p) => p.startsWith(tmp));
}

describe('files with no OPEN or RELEASE', () => {
  it('copies a lower file up at its first write, not at an open for writing', async () => {
    const f = `${M()}/d/written`;
    const out = await py(`
fd = os.open("${f}", os.O_WRONLY)
print(os.path.exists("${tmp}/upper/d/written"))
os.write(fd, b"UPPER")
os.close(fd)
print(os.path.exists("${tmp}/upper/d/written"), open("${f}").read().strip())`);
    expect(out).toBe('False\nTrue UPPER written\n');
    expect(readFileSync(join(tmp, 'l1/d/written'), 'utf8')).toBe('lower written\n');
  });

  it('truncates a lower file opened with O_TRUNC, the lower layer untouched', async () => {
    const f = `${M()}/d/trunc`;
    expect(await py(`os.close(os.open("${f}", os.O_WRONLY | os.O_TRUNC)); print(os.stat("${f}").st_size)`)).toBe('0\n');
    expect(readFileSync(join(tmp, 'l1/d/trunc'), 'utf8')).toBe('lower trunc\n');
    expect(
      await py(`fd = os.open("${f}", os.O_WRONLY | os.O_APPEND); os.write(fd, b"a"); os.write(fd, b"b")
os.close(fd); print(open("${f}").read())`),
    ).toBe('ab\n');
  });

  it('reads and writes an upper file unlinked while open; its fd goes once it is closed', async () => {
    const f = `${M()}/d/created`;
    const out = await py(`
fd = os.open("${f}", os.O_CREAT | os.O_RDWR, 0o644)
os.write(fd, b"before")
os.unlink("${f}")
os.write(fd, b" after")
print(os.pread(fd, 100, 0).decode(), os.fstat(fd).st_size, os.path.exists("${f}"))
os.ftruncate(fd, 3)
print(os.pread(fd, 100, 0).decode(), os.fstat(fd).st_size)
os.close(fd)`);
    expect(out).toBe('before after 12 False\nbef 3\n');
    // The kernel forgets the inode at its last close: the daemon then closes its fd.
    await ns.ok('sleep 0.2');
    expect(daemonFiles().filter((p) => p.includes('created'))).toEqual([]);
  });

  it('reads a lower file unlinked while open, and writes it in a copy no name reaches', async () => {
    const out = await py(`
r = os.open("${M()}/d/unlinked", os.O_RDONLY)
w = os.open("${M()}/d/unlinked-w", os.O_RDWR)
os.unlink("${M()}/d/unlinked"); os.unlink("${M()}/d/unlinked-w")
print(os.read(r, 100).decode().strip())
os.pwrite(w, b"W", 0)
print(os.pread(w, 100, 0).decode().strip(), sorted(os.listdir("${M()}/d")))
os.close(r); os.close(w)`);
    expect(out).toBe(`lower unlinked\nWower unlinked-w ['mapped', 'replaced', 'trunc', 'twice', 'written']\n`);
    expect(readFileSync(join(tmp, 'l1/d/unlinked-w'), 'utf8')).toBe('lower unlinked-w\n');
    expect(readdirSync(join(tmp, 'work'))).toEqual([]);
  });

  it('keeps the data of an open file that a rename replaced', async () => {
    const out = await py(`
open("${M()}/d/replaced", "a").write("+upper")
fd = os.open("${M()}/d/replaced", os.O_RDWR)
open("${M()}/d/new", "w").write("new")
os.rename("${M()}/d/new", "${M()}/d/replaced")
os.pwrite(fd, b"L", 0)
print(os.pread(fd, 100, 0).decode(), open("${M()}/d/replaced").read())
os.close(fd)`);
    expect(out).toBe('Lower replaced\n+upper new\n');
  });

  it('shows one open file written by one process to another that has it open, and by mmap', async () => {
    const out = await py(`
import mmap
a = os.open("${M()}/d/twice", os.O_RDONLY)
b = os.open("${M()}/d/twice", os.O_WRONLY)
os.pwrite(b, b"TWICE", 0)
print(os.pread(a, 100, 0).decode().strip())
fd = os.open("${M()}/d/mapped", os.O_RDWR)
m = mmap.mmap(fd, 0)
m[0:6] = b"MAPPED"
m.flush(); m.close(); os.fsync(fd); os.close(fd)
print(open("${M()}/d/mapped").read().strip())
os.close(a); os.close(b)`);
    expect(out).toBe('TWICE twice\nMAPPEDmapped\n');
    expect(readFileSync(join(tmp, 'upper/d/mapped'), 'utf8')).toBe('MAPPEDmapped\n');
  });

  it('serves more open files than it keeps fds for, and keeps at most its limit open', async () => {
    const out = await py(`
fds = [os.open("${M()}/many/f%d" % i, os.O_RDONLY) for i in range(600)]
bad = [i for r in range(2) for i, fd in enumerate(fds) if os.pread(fd, 100, 0) != b"file %d\\n" % i]
w = [os.open("${M()}/many/f%d" % i, os.O_RDWR) for i in range(0, 600, 3)]
for i, fd in zip(range(0, 600, 3), w): os.pwrite(fd, b"FILE", 0)
bad += [i for i, fd in enumerate(fds) if os.pread(fd, 100, 0) != (b"FILE %d\\n" if i % 3 == 0 else b"file %d\\n") % i]
print(bad)
import subprocess
print(subprocess.run(["sh", "-c", "ls /proc/${daemon}/fd | wc -l"], capture_output=True).stdout.decode().strip())
for fd in fds + w: os.close(fd)`);
    const [bad, count] = out.trim().split('\n');
    expect(bad).toBe('[]');
    // 256 files kept open (fuse/nodefd.ts), besides libfuse's and Node's own fds.
    expect(Number(count)).toBeGreaterThanOrEqual(256);
    expect(Number(count)).toBeLessThan(256 + 64);
  });
});
