import { UsageError } from '../../errors.js';
import { launchInUserNamespace } from '../launch/index.js';
import type { IdMapping } from '../../runtime/spec.js';

/**
 * -v SRC:DST:U — gives the sources to the container's user as podman does: `chown -R` run as root
 * of a user namespace with the container's own id maps, so uid 1000 inside is the host id the
 * container sees as 1000. chown -R does not follow symbolic links.
 */
export async function chownSources(
  sources: string[],
  user: { uid: number; gid: number },
  maps: { uidMappings: IdMapping[]; gidMappings: IdMapping[] },
): Promise<void> {
  if (sources.length === 0) return;
  const chown = await launchInUserNamespace(
    { args: ['/bin/chown', '-R', `${user.uid}:${user.gid}`, '--', ...sources], cwd: '/', ...maps },
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const { exitCode } = await chown.wait();
  if (exitCode !== 0) {
    throw new UsageError(
      'VOLUME_CHOWN',
      `cannot give ${sources.join(', ')} to the container's user ${user.uid}:${user.gid} (-v ...:U): chown -R in the user namespace exited with status ${exitCode}`,
      { hint: 'the user must be mapped (an /etc/subuid range for ids other than 0); see the message above' },
    );
  }
}
