import { closeSync, existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Store } from '../../image/store.js';
import { verifyImageStore, type StoreFinding } from '../../image/verify.js';
import type { HutchPaths } from '../../paths.js';
import { isSameProcess, processStartTime } from '../../sys/proc.js';
import { tryLock } from '../../sys/trylock.js';
import { releaseSetup, removeTree } from '../setup/index.js';
import {
  containerFiles,
  readState,
  updateState,
  userStore,
  viewContainer,
  type ContainerStore,
} from '../store/index.js';

export type Finding = StoreFinding;

/**
 * `hutch system check [--repair]`: the image store (every blob's digest, every layer's index, the
 * images' references; src/image/verify.ts), then the containers' records and what they leave
 * behind: containers recorded as live whose monitor is gone, runtime folders and image marks of
 * removed containers, folders of killed foreground runs, staging left by killed pulls, and mounts
 * under hutch's folders. Locks are flocks: the kernel drops them with their holder, so a lock is
 * never stale (a held one means a live owner). With `repair`, what can be undone is.
 */
export async function checkSystem(paths: HutchPaths, root: string | undefined, repair: boolean): Promise<Finding[]> {
  const findings = await verifyImageStore(new Store(root), repair);
  const store = userStore(paths);
  findings.push(...(await deadContainers(store, repair)));
  findings.push(...orphanRunDirs(store, repair));
  findings.push(...(await killedRuns(paths, repair)));
  findings.push(...staleMarks(paths, repair));
  findings.push(...staleTemp(paths, repair));
  findings.push(...mountsUnder(paths));
  return findings;
}

/** Records that say the container lives while its monitor is gone: marked stopped by repair. */
async function deadContainers(store: ContainerStore, repair: boolean): Promise<Finding[]> {
  const out: Finding[] = [];
  for (const id of dirNames(store.data)) {
    let status: string;
    try {
      const recorded = readState(store, id).status;
      status = viewContainer(store, id).state.status;
      if (recorded === status) continue;
    } catch (error) {
      out.push({ problem: `container ${id.slice(0, 12)}: its record cannot be read: ${(error as Error).message}` });
      continue;
    }
    const finding: Finding = { problem: `container ${id.slice(0, 12)} is recorded as live but its monitor is gone` };
    if (repair) {
      await updateState(store, id, (s) => {
        if (isSameProcess(s.pid, s.pidStart)) process.kill(s.pid!, 'SIGKILL');
        return { ...s, status: 'stopped', exitCode: s.exitCode ?? -1, error: s.error ?? 'its monitor died' };
      });
      rmSync(containerFiles(store, id).runDir, { recursive: true, force: true });
      finding.repaired = 'recorded it as stopped and removed its runtime files';
    }
    out.push(finding);
  }
  return out;
}

/** Runtime folders of containers that have no record any more. */
function orphanRunDirs(store: ContainerStore, repair: boolean): Finding[] {
  return dirNames(store.run)
    .filter((id) => !existsSync(containerFiles(store, id).dir))
    .map((id) => {
      if (repair) rmSync(join(store.run, id), { recursive: true, force: true });
      return {
        problem: `runtime folder ${join(store.run, id)} belongs to no container`,
        repaired: repair ? 'removed it' : undefined,
      };
    });
}

/** Folders of foreground runs whose hutch is gone (its folder's lock is free). */
async function killedRuns(paths: HutchPaths, repair: boolean): Promise<Finding[]> {
  const runParent = join(paths.run, 'ephemeral');
  const dataParent = join(paths.data, 'ephemeral');
  const out: Finding[] = [];
  for (const id of new Set([...dirNames(runParent), ...dirNames(dataParent)])) {
    // No runtime folder (a reboot emptied it) or a free lock: the run is over.
    const fd = existsSync(join(runParent, id)) ? tryLock(join(runParent, id, 'lock')) : -1;
    if (fd === undefined) continue; // the run goes on
    try {
      const finding: Finding = { problem: `the folders of foreground run ${id.slice(0, 12)} outlived it` };
      if (repair) {
        releaseSetup(join(dataParent, id), id);
        releaseSetup(join(runParent, id, 'data'), id); // a run whose store lacks user xattrs (ephemeralDataDir)
        await removeTree(join(dataParent, id));
        rmSync(join(runParent, id), { recursive: true, force: true });
        finding.repaired = 'removed them';
      }
      out.push(finding);
    } finally {
      if (fd >= 0) closeSync(fd);
    }
  }
  return out;
}

/** Image-in-use marks of containers that no longer exist (they would block `hutch rmi`). */
function staleMarks(paths: HutchPaths, repair: boolean): Finding[] {
  const marks = join(paths.data, 'image-users');
  const out: Finding[] = [];
  for (const image of dirNames(marks)) {
    for (const id of dirNames(join(marks, image))) {
      if (['containers', 'ephemeral'].some((d) => existsSync(join(paths.data, d, id)))) continue;
      if (existsSync(join(paths.run, 'ephemeral', id, 'data'))) continue;
      if (repair) rmSync(join(marks, image, id), { force: true });
      out.push({
        problem: `image ${image.slice(0, 12)} is marked in use by container ${id.slice(0, 12)}, which is gone`,
        repaired: repair ? 'removed the mark' : undefined,
      });
    }
  }
  return out;
}

/** Staging folders of pulls and commits whose process is gone. */
function staleTemp(paths: HutchPaths, repair: boolean): Finding[] {
  const tmp = join(paths.data, 'tmp');
  return dirNames(tmp)
    .filter((name) => {
      const pid = Number(/^[a-z]+-(\d+)(-|$)/.exec(name)?.[1]);
      return !Number.isInteger(pid) || processStartTime(pid) === undefined;
    })
    .map((name) => {
      if (repair) rmSync(join(tmp, name), { recursive: true, force: true });
      return {
        problem: `staging ${join(tmp, name)} was left by a command that died`,
        repaired: repair ? 'removed it' : undefined,
      };
    });
}

/** Mounts in this mount namespace under hutch's folders (hutch mounts only in namespaces of its own). */
function mountsUnder(paths: HutchPaths): Finding[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter(
      (m): m is string => m !== undefined && [paths.data, paths.run].some((d) => m === d || m.startsWith(`${d}/`)),
    )
    .map((m) => ({ problem: `${m} is mounted in the user's own mount namespace; unmount it (fusermount3 -u ${m})` }));
}

function dirNames(dir: string): string[] {
  try {
    return readdirSync(dir).filter((n) => !n.startsWith('.'));
  } catch {
    return [];
  }
}
