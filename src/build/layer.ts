import { createReadStream } from 'node:fs';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { EntryKind } from '../../fuse/layer-index.js';
import { storeTar, type StagedTar } from '../engine/commit/index.js';
import type { Store } from '../image/store.js';
import type { ImageTree } from './image-tree.js';

/** One entry of a layer a build step makes (COPY, ADD, WORKDIR): a tar header and where its data is. */
export type LayerEntry = Partial<tar.Header> & {
  name: string;
  type: NonNullable<tar.Header['type']>;
  /** A host file with the content of a 'file' entry. */
  source?: string;
};

/**
 * Adds the directories above the entries that the entries do not name: an existing directory
 * of the image keeps its owner and mode (a layer's directory entry replaces the one below),
 * one that is missing is made with `owner`, mode 0755. Sorted so that parents come first.
 */
export function withParents(entries: LayerEntry[], tree: ImageTree, owner: { uid: number; gid: number }): LayerEntry[] {
  const byName = new Map(entries.map((e) => [e.name, e]));
  for (const e of entries) {
    const parts = e.name.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (byName.has(dir)) continue;
      const lower = tree.get(dir)?.entry;
      byName.set(
        dir,
        lower?.kind === EntryKind.Dir
          ? {
              name: dir,
              type: 'directory',
              mode: lower.mode,
              uid: lower.uid,
              gid: lower.gid,
              mtime: new Date(lower.mtimeSec * 1000),
            }
          : { name: dir, type: 'directory', mode: 0o755, ...owner, mtime: new Date() },
      );
    }
  }
  return [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Stages `entries` as a new layer (gzip blob and unpacked directory): it takes its name with the step's image. */
export async function storeEntries(store: Store, entries: LayerEntry[], where: string): Promise<StagedTar> {
  return storeStream(store, where, async (pack) => {
    for (const e of entries) await addEntry(pack, e);
  });
}

/** Stages the tar `fill` writes on a pack as a layer. */
export async function storeStream(
  store: Store,
  where: string,
  fill: (pack: tar.Pack) => Promise<void>,
): Promise<StagedTar> {
  const pack = tar.pack();
  const out = new PassThrough();
  const piped = pipeline(pack, out);
  const filled = fill(pack).then(() => pack.finalize());
  filled.catch((error: unknown) => pack.destroy(error as Error));
  const [stored] = await Promise.all([storeTar(store, out as Readable, where), filled, piped]);
  return stored;
}

export async function addEntry(pack: tar.Pack, e: LayerEntry): Promise<void> {
  const { source, ...header } = e;
  const name = e.type === 'directory' ? `${e.name}/` : e.name;
  if (e.type === 'file' && source !== undefined) {
    await pipeline(createReadStream(source), pack.entry({ ...header, name } as tar.Header));
    return;
  }
  await new Promise<void>((resolve, reject) => {
    const done = (error?: Error | null): void => (error ? reject(error) : resolve());
    if (e.type === 'file') pack.entry({ ...header, name, size: 0 } as tar.Header, Buffer.alloc(0), done);
    else pack.entry({ ...header, name, size: 0 } as tar.Header, done);
  });
}
