import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { NsAgent } from './userns.js';

const repo = join(import.meta.dirname, '..', '..');

/**
 * Mounts a union of the indexed layer `l1` (l1.idx) in `dir` at dir/mnt (upper and work beside it)
 * from inside the agent's namespace, as the store mounts one; returns the daemon's pid.
 */
export async function mountIndexedUnion(ns: NsAgent, dir: string): Promise<number> {
  await ns.ok(`mkdir -p ${dir}/mnt ${dir}/upper ${dir}/work`);
  return Number(
    await ns.js(`
    const { mountUnion } = await imp(${JSON.stringify(join(repo, 'dist/fuse/mount.js'))});
    const d = ${JSON.stringify(dir)};
    globalThis.m = await mountUnion({ lowers: [{ dir: d + '/l1', indexFile: d + '/l1.idx' }],
      upper: d + '/upper', work: d + '/work', mountpoint: d + '/mnt' });
    return globalThis.m.pid;`),
  );
}

/** Unmounts the agent's union, removes what it wrote (owned by its ids) and `dir`, and ends the agent. */
export async function endUnionAgent(ns: NsAgent | undefined, dir: string | undefined): Promise<void> {
  if (ns !== undefined) {
    await ns.js(`await globalThis.m?.unmount();`).catch(() => undefined);
    await ns.ok(`rm -rf ${dir}/upper ${dir}/work`);
    await ns.close();
  }
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
}
