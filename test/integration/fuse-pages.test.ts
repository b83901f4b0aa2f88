// The union daemon gives back the node binary's pages once mounted and again when idle
// (src/sys/pages.ts, fuse/daemon.ts): it must serve every byte of a tree the same afterwards.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requires } from '../helpers/host.js';
import { startAgent, type NsAgent } from '../helpers/userns.js';

const repo = join(import.meta.dirname, '..', '..');
let tmp: string;
let ns: NsAgent | undefined;

beforeEach(() => {
  requires('fuse', 'userns');
  tmp = mkdtempSync(join(tmpdir(), 'hutch-fs-pages-'));
  chmodSync(tmp, 0o755);
  for (const d of ['keep/up', 'keep/wk', 'keep/mnt', 'drop/up', 'drop/wk', 'drop/mnt', 'lower'])
    mkdirSync(join(tmp, d), { recursive: true });
});

afterEach(async () => {
  if (ns !== undefined) {
    await ns.js('for (const m of Object.values(globalThis.mounts ?? {})) await m.unmount();');
    expect(await ns.ok('cat /proc/self/mountinfo')).not.toContain(tmp);
    await ns.close();
    ns = undefined;
  }
  rmSync(tmp, { recursive: true, force: true });
});

/** Mounts the union over `lower` as NAME (keep/drop) with the daemon's environment `env`. */
async function mount(name: string, env: Record<string, string>): Promise<void> {
  await ns!.js(`
    const { mountUnion } = await imp(${JSON.stringify(join(repo, 'dist/fuse/mount.js'))});
    const d = ${JSON.stringify(tmp)}, n = ${JSON.stringify(name)};
    Object.assign(process.env, ${JSON.stringify(env)});
    globalThis.mounts = { ...globalThis.mounts, [n]: await mountUnion({ lowers: [{ dir: d + '/lower' }], upper: d + '/' + n + '/up', work: d + '/' + n + '/wk', mountpoint: d + '/' + n + '/mnt' }) };`);
}

/** KiB of the node binary's pages resident in the daemon of mount NAME. */
function nodeRss(name: string): Promise<number> {
  return ns!.js<number>(`
    const { readFileSync, realpathSync } = await imp('node:fs');
    const bin = realpathSync(process.execPath);
    let mine = false, kib = 0;
    for (const line of readFileSync('/proc/' + globalThis.mounts[${JSON.stringify(name)}].pid + '/smaps', 'latin1').split('\\n')) {
      if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) mine = line.trimEnd().endsWith(' ' + bin);
      else if (mine && line.startsWith('Rss:')) kib += Number(line.split(/\\s+/)[1]);
    }
    return kib;`);
}

describe('the union daemon dropping its start-up pages', () => {
  it('serves a whole tree byte for byte after dropping them at mount and when idle', async () => {
    ns = startAgent('single', tmp);
    // 3 x 40 files of 1-160 KiB, a symlink and an empty file in nested directories.
    await ns.ok(
      'cd lower && for d in a a/b c; do mkdir -p $d; for f in $(seq 40); do head -c $((f * 4093)) /dev/urandom > $d/f$f; done; done && ln -s a/f1 link && : > empty',
    );
    await mount('keep', { HUTCH_FS_PAGES: 'keep' });
    await mount('drop', { HUTCH_FS_PAGES: '', HUTCH_FS_IDLE_MS: '300' });
    const kept = await nodeRss('keep');
    const dropped = await nodeRss('drop');
    expect(dropped).toBeLessThan(kept / 2);
    const same = 'diff -r --no-dereference lower drop/mnt && tar -C drop/mnt -cf - . | tar -tvf - | wc -l';
    expect((await ns.ok(same)).trim()).toBe(String(3 * 40 + 3 + 3)); // files, dirs, link, empty, "."
    const afterRead = await nodeRss('drop');
    await ns.ok('sleep 1.5'); // idle: the daemon drops again
    expect(await nodeRss('drop')).toBeLessThan(afterRead);
    expect((await ns.ok(same)).trim()).toBe(String(3 * 40 + 3 + 3));
    await ns.ok('echo written > drop/mnt/a/new && cat drop/mnt/a/new && sleep 1 && cat drop/mnt/a/new');
    expect(await ns.ok('cat drop/up/a/new')).toBe('written\n');
  });
});
