import type { HutchPaths } from '../../paths.js';
import { formatReference, parseReference } from '../../image/ref.js';
import { readConfig } from '../../image/resolve.js';
import type { ImageRecord } from '../../image/store.js';
import { writeImage } from '../../image/write-image.js';
import { applyChange } from './changes.js';
import { containerLayer } from './container-layer.js';
import { freezeForCommit } from './freeze.js';
import { layerFromUpper } from './layer-stream.js';

export interface CommitRequest {
  container: string;
  /** NAME[:TAG]; none: an image known by its id only. */
  name?: string;
  changes: string[];
  message?: string;
  author?: string;
  /** --pause (default true): the running container is frozen while its layer is read. */
  pause?: boolean;
}

/**
 * `hutch commit`: the container's writable layer becomes a new layer on top of its image's, with
 * the image's config, `--change` lines applied, and a history entry. Returns the stored image.
 */
export async function commitContainer(
  paths: HutchPaths,
  root: string | undefined,
  req: CommitRequest,
): Promise<ImageRecord> {
  const { what, store, base, upper, mountpoints, maps } = containerLayer(paths, root, req.container, 'commit');
  const names = req.name === undefined ? [] : [formatReference(parseReference(req.name, 'localhost'))];
  const config = readConfig(store, base);
  let run = config.config ?? {};
  for (const line of req.changes) run = applyChange(run, line);
  store.sweepTemp();
  const thaw = req.pause === false ? async () => undefined : await freezeForCommit(paths, req.container);
  let staged;
  try {
    staged = await layerFromUpper(store, upper, mountpoints, maps, what);
  } finally {
    await thaw();
  }
  const created = new Date().toISOString();
  const history = {
    created,
    created_by: `hutch commit ${req.container}`,
    ...(req.author ? { author: req.author } : {}),
    ...(req.message ? { comment: req.message } : {}),
  };
  return writeImage(
    store,
    {
      ...config,
      created,
      ...(req.author ? { author: req.author } : {}),
      config: run,
      rootfs: { type: 'layers', diff_ids: [...config.rootfs.diff_ids, staged.layer.diffId] },
      history: [...(config.history ?? []), history],
    },
    [...base.layers, staged.layer],
    names,
    [staged],
  );
}
