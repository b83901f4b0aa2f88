import { accessSync, constants, statSync } from 'node:fs';
import { posix } from 'node:path';
import { FuseError } from '../../errors.js';
import type { IdMapping, Mount, Spec } from '../../runtime/spec.js';
import type { Cleanup } from '../../sys/cleanup.js';
import { existsInRoot } from '../../sys/in-root.js';
import { checkFuse, startUnion, type ContainerRootfs, type StorageDirs } from './storage.js';

/**
 * A `--rootfs DIR` tree is never written by hutch: a mount target it lacks (etc/hosts, proc, a -v
 * destination, ...) would have to be created in it, which leaves files behind in a writable tree
 * and fails in one the user may only read (an administrator's, on a cluster). Then the container
 * runs on a writable layer over the tree instead, as Apptainer's --writable-tmpfs does: hutch's
 * union filesystem with DIR as its only lower layer and the container's own upper layer.
 */
export async function treeLayer(
  spec: Spec,
  dirs: StorageDirs,
  maps: { uidMappings: IdMapping[]; gidMappings: IdMapping[] },
  cleanup: Cleanup,
  joinUserns?: string,
): Promise<ContainerRootfs | undefined> {
  const dir = spec.root?.path;
  if (dir === undefined) return undefined;
  const missing = missingTargets(dir, spec.mounts ?? []);
  // A complete tree the user may write is bound as it is; one an administrator shares read-only
  // gets the layer too, else the container could write nowhere (not even /tmp); without FUSE it
  // is bound as it is, as before.
  if (missing.length === 0 && (writable(dir) || !fuseUsable())) return undefined;
  try {
    checkFuse();
  } catch (error) {
    throw new FuseError(
      'ROOTFS_NEEDS_LAYER',
      `cannot run on ${dir}: it lacks ${missing.join(', ')}, which hutch mounts over but never creates in a --rootfs tree, and the writable layer that would hold them needs the union filesystem (${(error as FuseError).message.replace(/^cannot use the union filesystem: /, '')})`,
      {
        hint: `create them in the tree (e.g. \`mkdir -p ${dir}/proc && touch ${dir}/etc/hosts\`), or make /dev/fuse usable (crw-rw-rw-)`,
        cause: error,
      },
    );
  }
  // A tree owned by someone the container does not map (root, an administrator) shows as owned
  // by root, as Apptainer shows it: else its root could not make even /etc/hosts in the layer.
  return startUnion([{ dir }], dirs, maps, cleanup, joinUserns, !isMapped(statSync(dir).uid, maps.uidMappings));
}

function fuseUsable(): boolean {
  try {
    checkFuse();
    return true;
  } catch {
    return false;
  }
}

function writable(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

function isMapped(hostId: number, maps: IdMapping[]): boolean {
  return maps.some((m) => hostId >= m.hostID && hostId < m.hostID + m.size);
}

/**
 * The mount destinations that must exist in the tree itself, and do not: those beneath an earlier
 * mount of the spec (/dev/pts in /dev's tmpfs) are made in that mount, not in the tree.
 */
export function missingTargets(dir: string, mounts: Mount[]): string[] {
  const destinations = mounts.map((m) => posix.normalize(m.destination).replace(/(.)\/+$/, '$1'));
  const inEarlier = (d: string, i: number): boolean =>
    destinations.slice(0, i).some((e) => e === '/' || d.startsWith(e.endsWith('/') ? e : `${e}/`));
  return [...new Set(destinations.filter((d, i) => !inEarlier(d, i) && !existsInRoot(dir, d)))];
}
