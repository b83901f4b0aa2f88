import { rmSync } from 'node:fs';
import { containerFiles, withStoreLock, type ContainerStore } from '../store/index.js';
import { removeTree } from './remove-tree.js';
import { releaseSetup } from './setup.js';

/** Removes the record and runtime files of a container (the caller has made sure nothing runs). */
export async function removeRecord(store: ContainerStore, id: string): Promise<void> {
  await withStoreLock(store, async () => {
    const files = containerFiles(store, id);
    releaseSetup(files.dir, id); // its image is no longer in use
    rmSync(files.runDir, { recursive: true, force: true });
    await removeTree(files.dir);
  });
}
