// The union daemon gives back the node binary's pages once mounted and again when idle (fuse/pages.ts,
// native/fs-pages.c and fs-idle.c: a C thread): it must serve every byte of a tree the same afterwards.
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
  for (const d of ['keep', 'drop', 'off', 'fast'].flatMap((n) => [`${n}/up`, `${n}/wk`, `${n}/mnt`]))
    mkdirSync(join(tmp, d), { recursive: true });
  mkdirSync(join(tmp, 'lower'));
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

/** KiB of file pages resident in the daemon of mount NAME (RssFile). */
function fileRss(name: string): Promise<number> {
  return ns!.js<number>(`
    const { readFileSync } = await imp('node:fs');
    const status = readFileSync('/proc/' + globalThis.mounts[${JSON.stringify(name)}].pid + '/status', 'latin1');
    return Number(/^RssFile:\\s+(\\d+) kB$/m.exec(status)[1]);`);
}

/** How many threads the daemon of mount NAME has. */
function threads(name: string): Promise<number> {
  return ns!.js<number>(`
    const { readdirSync } = await imp('node:fs');
    return readdirSync('/proc/' + globalThis.mounts[${JSON.stringify(name)}].pid + '/task').length;`);
}

describe('the union daemon dropping its start-up pages', () => {
  it('serves a whole tree byte for byte after dropping them when idle (or at mount with no watcher)', async () => {
    ns = startAgent('single', tmp);
    // 3 x 40 files of 1-160 KiB, a symlink and an empty file in nested directories.
    await ns.ok(
      'cd lower && for d in a a/b c; do mkdir -p $d; for f in $(seq 40); do head -c $((f * 4093)) /dev/urandom > $d/f$f; done; done && ln -s a/f1 link && : > empty',
    );
    await mount('keep', { HUTCH_FS_PAGES: 'keep', HUTCH_FS_IDLE_MS: '' });
    await mount('drop', { HUTCH_FS_PAGES: '', HUTCH_FS_IDLE_MS: '' }); // the default: idle drops every 1 s
    await mount('off', { HUTCH_FS_IDLE_MS: '0' });
    await mount('fast', { HUTCH_FS_IDLE_MS: '300' });
    const kept = await fileRss('keep');
    expect(await fileRss('off')).toBeLessThan(kept / 2); // HUTCH_FS_IDLE_MS=0: one drop, at mount
    await ns.ok('sleep 2.5'); // the watcher's first drop waits for the start's requests to end
    for (const name of ['drop', 'fast']) expect(await fileRss(name)).toBeLessThan(kept / 2);
    expect(await threads('drop')).toBe((await threads('keep')) + 1); // the idle watcher
    expect(await threads('off')).toBe(await threads('keep'));
    const same = (name: string): string =>
      `diff -r --no-dereference lower ${name}/mnt && tar -C ${name}/mnt -cf - . | tar -tvf - | wc -l`;
    const entries = String(3 * 40 + 3 + 3); // files, dirs, link, empty, "."
    const afterRead: Record<string, number> = {};
    for (const name of ['drop', 'off', 'fast']) {
      expect((await ns.ok(same(name))).trim()).toBe(entries);
      afterRead[name] = await fileRss(name);
    }
    await ns.ok('sleep 2.5'); // idle for more than two periods of 1 s: the default drops again
    const idle = { drop: await fileRss('drop'), off: await fileRss('off'), fast: await fileRss('fast') };
    expect(idle.drop).toBeLessThan(afterRead.drop!);
    expect(idle.fast).toBeLessThan(afterRead.fast!);
    expect(idle.drop).toBeLessThan(idle.off); // HUTCH_FS_IDLE_MS=0: no drop after the one at mount
    for (const name of ['drop', 'fast']) expect((await ns.ok(same(name))).trim()).toBe(entries);
    await ns.ok('echo written > drop/mnt/a/new && cat drop/mnt/a/new && sleep 2.5 && cat drop/mnt/a/new');
    expect(await ns.ok('cat drop/up/a/new')).toBe('written\n');
  });

  it('exits 0 once unmounted while its watcher wakes every 1 ms (the watcher is joined before its library goes)', async () => {
    ns = startAgent('single', tmp);
    await ns.ok('mkdir -p lower/d && echo x > lower/d/f');
    // Node frees its environment at exit and koffi dlcloses the library: a watcher left sleeping
    // woke into unmapped code (SIGSEGV, every exit at this period).
    for (let i = 0; i < 4; i++) {
      await mount('fast', { HUTCH_FS_PAGES: '', HUTCH_FS_IDLE_MS: '1' });
      expect(await ns.ok('cat fast/mnt/d/f && sleep 0.05')).toBe('x\n');
      const end = await ns.js<{ code: number | null; signal: string | null }>(
        'await globalThis.mounts.fast.unmount(); const e = await globalThis.mounts.fast.exited; delete globalThis.mounts.fast; return e;',
      );
      expect(end).toEqual({ code: 0, signal: null });
    }
  });

  it('dies of kill -9 while its watcher drops, leaving ENOTCONN and an unmountable mount', async () => {
    ns = startAgent('single', tmp);
    await ns.ok('mkdir -p lower/d && echo x > lower/d/f');
    await mount('fast', { HUTCH_FS_PAGES: '', HUTCH_FS_IDLE_MS: '1' }); // the watcher wakes every 1 ms
    await ns.ok('for i in $(seq 50); do [ "$(cat fast/mnt/d/f)" = x ] || exit 1; sleep 0.01; done');
    await ns.js(
      'process.kill(globalThis.mounts.fast.pid, "SIGKILL"); globalThis.e = await globalThis.mounts.fast.exited;',
    );
    expect(await ns.js('return globalThis.e.signal')).toBe('SIGKILL');
    expect((await ns.sh('stat fast/mnt/d')).stderr).toMatch(/Transport endpoint is not connected/);
  });
});
