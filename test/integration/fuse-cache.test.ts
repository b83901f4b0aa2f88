// The kernel's caches over the union (entries and attributes kept a day, pages kept across opens,
// listings cached): every change made through the mount must show at once, to the process that
// made it and to another one that had the old entry cached. Indexed lower layers, as the store's.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EntryKind } from '../../fuse/layer-index.js';
import { requires } from '../helpers/host.js';
import { writeLayer } from '../helpers/layers.js';
import { startAgent, type NsAgent } from '../helpers/userns.js';
import { endUnionAgent, mountIndexedUnion } from '../helpers/union-agent.js';

let tmp: string;
let ns: NsAgent;
const M = (): string => join(tmp, 'mnt');
// One python process that looks, lets `change` run as another process, and looks again.
const lookTwice = (look: string, change: string): string =>
  `python3 -c '
import os, subprocess, sys
def look():
    try:
        return ${look}
    except OSError as e:
        return "E" + str(e.errno)
before = look()
subprocess.run(["sh", "-c", sys.argv[1]], check=True)
print(before, look())' '${change}'`;

beforeAll(async () => {
  requires('fuse', 'subuid', 'newuidmap');
  tmp = mkdtempSync(join(tmpdir(), 'hutch-fuse-cache-'));
  chmodSync(tmp, 0o755);
  const files = ['f-chmod', 'f-unlink', 'f-rename', 'f-write', 'f-trunc', 'f-over', 'f-target'];
  writeLayer(join(tmp, 'l1'), join(tmp, 'l1.idx'), [
    { path: 'd', kind: EntryKind.Dir },
    ...files.map((f) => ({ path: `d/${f}`, kind: EntryKind.File, content: `${f}\n`, mode: 0o644 })),
    { path: 'd/sub/inner', kind: EntryKind.File, content: 'inner\n' },
    { path: 'd/hl1', kind: EntryKind.File, content: 'linked\n' },
    { path: 'd/hl2', kind: EntryKind.Hardlink, link: 'd/hl1' },
    { path: 'big', kind: EntryKind.File, content: 'x'.repeat(100_000) },
    // ~90 KiB of dirents: a listing read in several READDIR requests.
    ...Array.from({ length: 1500 }, (_, i) => ({
      path: `many/entry-with-a-rather-long-name-${String(i).padStart(5, '0')}`,
      kind: EntryKind.File,
      content: '',
    })),
  ]);
  ns = startAgent('range', tmp);
  await mountIndexedUnion(ns, tmp);
  // Everything below is looked up, stat'ed, read and listed once: the kernel now caches it.
  await ns.ok(`ls -laR ${M()} >/dev/null && find ${M()} -type f -exec cat {} + >/dev/null`);
});

afterAll(() => endUnionAgent(ns, tmp));

describe('kernel caches over the union', () => {
  it('shows a chmod of a cached lower file to the process that had it cached', async () => {
    const look = `oct(os.stat("${M()}/d/f-chmod").st_mode & 0o7777)`;
    expect(await ns.ok(lookTwice(look, `chmod 600 ${M()}/d/f-chmod`))).toBe('0o644 0o600\n');
    expect(await ns.ok(`stat -c %a ${M()}/d/f-chmod`)).toBe('600\n');
  });

  it('forgets an unlinked lower file in lookups and listings', async () => {
    const look = `(os.stat("${M()}/d/f-unlink").st_size, "f-unlink" in os.listdir("${M()}/d"))`;
    expect(await ns.ok(lookTwice(look, `rm ${M()}/d/f-unlink`))).toBe('(9, True) E2\n');
    expect(await ns.ok(`ls ${M()}/d | grep -c f-unlink || true`)).toBe('0\n');
    expect((await ns.sh(`stat ${M()}/d/f-unlink`)).status).not.toBe(0);
  });

  it('moves a renamed lower file and directory in lookups and listings', async () => {
    const look = `(open("${M()}/d/f-rename").read(), sorted(os.listdir("${M()}/d/sub")))`;
    const moved = await ns.ok(
      lookTwice(look, `mv ${M()}/d/f-rename ${M()}/d/f-renamed && mv ${M()}/d/sub ${M()}/d/sub2`),
    );
    expect(moved).toBe(`('f-rename\\n', ['inner']) E2\n`);
    expect(await ns.ok(`cat ${M()}/d/f-renamed ${M()}/d/sub2/inner`)).toBe('f-rename\ninner\n');
    expect((await ns.sh(`ls ${M()}/d/sub`)).status).not.toBe(0);
    expect(await ns.ok(`ls ${M()}/d | grep -E '^(f-rename|f-renamed|sub|sub2)$'`)).toBe('f-renamed\nsub2\n');
  });

  it('replaces a cached entry renamed over, and its data', async () => {
    const look = `(open("${M()}/d/f-target").read(), os.stat("${M()}/d/f-target").st_ino)`;
    const out = await ns.ok(lookTwice(look, `mv ${M()}/d/f-over ${M()}/d/f-target`));
    const [before, after] = out.trim().split(') (');
    expect(before).toContain("'f-target\\n'");
    expect(after).toContain("'f-over\\n'");
    expect(await ns.ok(`cat ${M()}/d/f-target`)).toBe('f-over\n');
  });

  it('shows data written to a lower file whose pages the kernel kept', async () => {
    const look = `(open("${M()}/d/f-write").read(), os.stat("${M()}/d/f-write").st_size)`;
    expect(await ns.ok(lookTwice(look, `echo more >> ${M()}/d/f-write`))).toBe(
      "('f-write\\n', 8) ('f-write\\nmore\\n', 13)\n",
    );
    const trunc = `(open("${M()}/d/f-trunc").read(), os.stat("${M()}/d/f-trunc").st_size)`;
    expect(await ns.ok(lookTwice(trunc, `echo new > ${M()}/d/f-trunc`))).toBe("('f-trunc\\n', 8) ('new\\n', 4)\n");
    // A file read through large (spliced) replies, then cut in the middle by a second process.
    const big = `(len(open("${M()}/big").read()), open("${M()}/big").read()[-1:])`;
    expect(await ns.ok(lookTwice(big, `truncate -s 50000 ${M()}/big && echo end >> ${M()}/big`))).toBe(
      "(100000, 'x') (50004, '\\n')\n",
    );
  });

  it('shows a write through one name of a lower hard link in the other, cached, name', async () => {
    const look = `(open("${M()}/d/hl2").read(), os.stat("${M()}/d/hl2").st_size)`;
    expect(await ns.ok(lookTwice(look, `echo more >> ${M()}/d/hl1`))).toBe(
      "('linked\\n', 7) ('linked\\nmore\\n', 12)\n",
    );
  });

  it('shows a later write through one name of a hard link in the other, its pages cached since', async () => {
    // Both names are upper now, each its own kernel inode whose pages are kept (no OPEN to drop them).
    const look = `open("${M()}/d/hl2").read()`;
    expect(await ns.ok(lookTwice(look, `printf LINKED > ${M()}/d/hl1 && echo more >> ${M()}/d/hl1`))).toBe(
      'linked\nmore\n LINKEDmore\n\n',
    );
  });

  it('lists a large directory whole, and every entry once while each is removed as it is read', async () => {
    const count = `python3 -c 'import os; n = os.listdir("${M()}/many"); print(len(n), len(set(n)))'`;
    expect(await ns.ok(count)).toBe('1500 1500\n');
    // As busybox rm -r does: unlink each entry as readdir returns it, then rmdir.
    const drain = `python3 -c '
import os
d = "${M()}/many"
seen = 0
with os.scandir(d) as it:
    for e in it:
        os.unlink(e.path)
        seen += 1
os.rmdir(d)
print(seen)'`;
    expect(await ns.ok(drain)).toBe('1500\n');
  });

  it('lists entries created and removed after a listing was cached', async () => {
    const look = `sorted(n for n in os.listdir("${M()}/d") if n.startswith("new"))`;
    expect(await ns.ok(lookTwice(look, `touch ${M()}/d/new1 && mkdir ${M()}/d/new2`))).toBe("[] ['new1', 'new2']\n");
    expect(await ns.ok(lookTwice(look, `rm ${M()}/d/new1 && rmdir ${M()}/d/new2`))).toBe("['new1', 'new2'] []\n");
  });
});
