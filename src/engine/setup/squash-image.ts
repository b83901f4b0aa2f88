import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { IdMapping } from '../../runtime/spec.js';
import type { Cleanup } from '../../sys/cleanup.js';
import { startUnion, type ContainerRootfs, type StorageDirs } from './storage.js';

/**
 * A single-file image's root filesystem: the union daemon, as root of the container's user
 * namespace, first mounts the squashfs with squashfuse at RUN/lower (in its own mount namespace
 * only, never on the host), then the union with that as its only lower layer and the container's
 * upper layer over it. Nothing is unpacked; the file's owners are read as the container's ids.
 * The daemon's end (cleanup, a kill, hutch killed) takes squashfuse and both mounts with it.
 */
export async function squashRootfs(
  file: string,
  dirs: StorageDirs,
  maps: { uidMappings: IdMapping[]; gidMappings: IdMapping[] },
  cleanup: Cleanup,
  joinUserns?: string,
): Promise<ContainerRootfs> {
  const lower = join(dirs.run, 'lower');
  mkdirSync(lower, { recursive: true, mode: 0o700 });
  return startUnion([{ dir: lower, squashfs: file }], dirs, maps, cleanup, joinUserns);
}
