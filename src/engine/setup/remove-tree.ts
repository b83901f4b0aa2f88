import { rmSync } from 'node:fs';
import { StoreError } from '../../errors.js';
import { ownRangeMaps } from '../../userns/own-range.js';
import { launchInUserNamespace } from '../launch/index.js';

/**
 * Removes a container's folder. Its writable layer holds files of the container's other users
 * (owned by ids of the user's subuid range on the host), and a directory such a user made with
 * mode 0700 or 0755 is one the user cannot empty (a package's /var/lib/NAME, apt's partial/). As
 * `podman unshare rm -rf` does, what a plain removal cannot take is removed by `rm -rf` run as
 * root of a user namespace that maps the user's whole range.
 */
export async function removeTree(dir: string): Promise<void> {
  try {
    rmSync(dir, { recursive: true, force: true });
    return;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EACCES' && code !== 'EPERM' && code !== 'ENOTEMPTY') throw e;
  }
  const rm = await launchInUserNamespace(
    { args: ['/bin/rm', '-rf', '--', dir], ...ownRangeMaps() },
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const { exitCode } = await rm.wait();
  if (exitCode !== 0) {
    throw new StoreError(
      'CONTAINER_FILES_REMOVE',
      `cannot remove ${dir}: rm -rf in the user namespace exited with status ${exitCode}`,
      { hint: `remove it with \`podman unshare rm -rf ${dir}\` or as root` },
    );
  }
}
