import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { readSetup } from '../setup/index.js';
import { containerFiles, readConfig as readContainer, resolveContainer, userStore } from '../store/index.js';
import { UsageError } from '../../errors.js';
import type { HutchPaths } from '../../paths.js';
import type { IdMapping } from '../../runtime/spec.js';
import { Store, type ImageRecord } from '../../image/store.js';

/** A container's writable layer and what it lies on: for commit and diff. */
export interface ContainerLayer {
  what: string;
  store: Store;
  /** The image the container was made from. */
  base: ImageRecord;
  upper: string;
  /** The container's mount destinations (left out of the layer when they are empty placeholders). */
  mountpoints: string[];
  maps: { uidMappings: IdMapping[]; gidMappings: IdMapping[] };
}

/** Finds a container of an image on the union filesystem, with its upper directory (made if never started). */
export function containerLayer(paths: HutchPaths, root: string | undefined, ref: string, verb: string): ContainerLayer {
  const containers = userStore(paths);
  const id = resolveContainer(containers, ref);
  const files = containerFiles(containers, id);
  const setup = readSetup(files.dir);
  const what = `container ${ref}`;
  if (setup?.image === undefined)
    throw new UsageError('COMMIT_NO_IMAGE', `cannot ${verb} ${what}: it runs on a directory (--rootfs), not an image`, {
      hint: 'use a container made from an image; for a directory, tar it and use hutch import',
    });
  if (setup.image.driver === 'vfs')
    throw new UsageError(
      'COMMIT_VFS',
      `cannot ${verb} ${what}: it uses --storage-driver=vfs, which keeps no separate writable layer`,
      { hint: 'create the container with the union filesystem (the default driver)' },
    );
  const store = new Store(setup.flags.root ?? root);
  const base = store.images().find((i) => i.id === setup.image!.id);
  if (base === undefined)
    throw new UsageError(
      'COMMIT_IMAGE_GONE',
      `cannot ${verb} ${what}: its image ${setup.image.id.slice(7, 19)} is no longer in the store`,
      { hint: 'pull or load the image again' },
    );
  const upper = join(files.dir, 'upper');
  if (!existsSync(upper)) mkdirSync(upper, { recursive: true, mode: 0o755 }); // created, never started: nothing changed
  const spec = readContainer(containers, id).spec;
  return {
    what,
    store,
    base,
    upper,
    mountpoints: (spec.mounts ?? []).map((m) => m.destination),
    maps: { uidMappings: spec.linux?.uidMappings ?? [], gidMappings: spec.linux?.gidMappings ?? [] },
  };
}
