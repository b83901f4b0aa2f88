import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { readSetup } from '../../engine/setup/index.js';
import { containerFiles, readConfig as readContainer, resolveContainer, userStore } from '../../engine/store/index.js';
import { UsageError } from '../../errors.js';
import type { HutchPaths } from '../../paths.js';
import { formatReference, parseReference } from '../ref.js';
import { readConfig } from '../resolve.js';
import { Store, type ImageRecord } from '../store.js';
import { writeImage } from '../write-image.js';
import { applyChange } from './changes.js';
import { layerFromUpper } from './layer-stream.js';

export interface CommitRequest {
  container: string;
  /** NAME[:TAG]; none: an image known by its id only. */
  name?: string;
  changes: string[];
  message?: string;
  author?: string;
}

/**
 * `hutch commit`: the container's writable layer becomes a new layer on top of its image's, with
 * the image's config, `--change` lines applied, and a history entry. Returns the stored image.
 */
export async function commitContainer(paths: HutchPaths, root: string | undefined, req: CommitRequest): Promise<ImageRecord> {
  const containers = userStore(paths);
  const id = resolveContainer(containers, req.container);
  const files = containerFiles(containers, id);
  const setup = readSetup(files.dir);
  const what = `container ${req.container}`;
  if (setup?.image === undefined) throw new UsageError('COMMIT_NO_IMAGE', `cannot commit ${what}: it runs on a directory (--rootfs), not an image`, { hint: 'commit a container made from an image; for a directory, tar it and use hutch import' });
  if (setup.image.driver === 'vfs') throw new UsageError('COMMIT_VFS', `cannot commit ${what}: it uses --storage-driver=vfs, which keeps no separate writable layer`, { hint: 'create the container with the union filesystem (the default driver) to commit it' });
  const store = new Store(setup.flags.root ?? root);
  const base = store.images().find((i) => i.id === setup.image!.id);
  if (base === undefined) throw new UsageError('COMMIT_IMAGE_GONE', `cannot commit ${what}: its image ${setup.image.id.slice(7, 19)} is no longer in the store`, { hint: 'pull or load the image again' });
  const names = req.name === undefined ? [] : [formatReference(parseReference(req.name, 'localhost'))];
  const config = readConfig(store, base);
  let run = config.config ?? {};
  for (const line of req.changes) run = applyChange(run, line);
  const upper = join(files.dir, 'upper');
  if (!existsSync(upper)) mkdirSync(upper, { recursive: true, mode: 0o755 }); // created, never started: an empty layer
  const spec = readContainer(containers, id).spec;
  store.sweepTemp();
  const layer = await layerFromUpper(store, upper, (spec.mounts ?? []).map((m) => m.destination), { uidMappings: spec.linux?.uidMappings ?? [], gidMappings: spec.linux?.gidMappings ?? [] }, what);
  const created = new Date().toISOString();
  const history = { created, created_by: `hutch commit ${req.container}`, ...(req.author ? { author: req.author } : {}), ...(req.message ? { comment: req.message } : {}) };
  return writeImage(store, {
    ...config, created, ...(req.author ? { author: req.author } : {}), config: run,
    rootfs: { type: 'layers', diff_ids: [...config.rootfs.diff_ids, layer.diffId] },
    history: [...(config.history ?? []), history],
  }, [...base.layers, layer], names);
}
