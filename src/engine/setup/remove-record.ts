import { rmSync } from 'node:fs';
import { containerFiles, withStoreLock, type ContainerStore } from '../store/index.js';
import { removeTree } from './remove-tree.js';
import { networkDir, releaseSetup } from './setup.js';

/** Removes the record and runtime files of a container (the caller has made sure nothing runs). */
export async function removeRecord(store: ContainerStore, id: string): Promise<void> {
  await withStoreLock(store, async () => {
    const files = containerFiles(store, id);
    releaseSetup(files.dir, id); // its image is no longer in use
    rmSync(files.runDir, { recursive: true, force: true });
    // Its network's folder is beside the run folder, not in it (sun_path's length): `rm -f`
    // skips the monitor's finish, which removes it otherwise.
    rmSync(networkDir(files.runDir, id), { recursive: true, force: true });
    await removeTree(files.dir);
  });
}
