import { statSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { UsageError } from '../../errors.js';
import type { Mount } from '../../runtime/spec.js';

/**
 * `--device HOST[:CONTAINER][:PERMISSIONS]` as podman has it, rootless: the host's device node
 * (or a folder of them, e.g. /dev/dri) bound into the container's /dev, without nodev (a -v bind
 * has it, so a bound device cannot be opened). Access is the node's own mode: narrowing it takes
 * the device cgroup (cgroup v2: a BPF program only root may load), and a read-only mount does not
 * stop writes to a device, so PERMISSIONS without r or w is refused rather than ignored; mknod is
 * out of reach (CAP_MKNOD in the initial user namespace), so m adds nothing.
 */
export function deviceMount(value: string): Mount {
  const parts = value.split(':');
  const permissions = parts.length > 1 && /^[rwm]+$/.test(parts[parts.length - 1]!) ? parts.pop()! : 'rwm';
  const [source = '', destination = source, ...rest] = parts;
  if (!isAbsolute(source) || !isAbsolute(destination) || rest.length > 0)
    throw new UsageError(
      'DEVICE_INVALID',
      `invalid --device ${value}: expected HOST[:CONTAINER][:rwm] with absolute paths`,
      {
        hint: 'e.g. --device /dev/fuse or --device /dev/nvidia0:/dev/nvidia0:rw',
      },
    );
  if (!permissions.includes('r') || !permissions.includes('w'))
    throw new UsageError(
      'DEVICE_PERMISSIONS',
      `cannot restrict --device ${source} to ${permissions}: a rootless container has no device cgroup, and the node's own mode decides`,
      { hint: "drop the permissions (rw is what you get), or change the node's mode or ACL on the host" },
    );
  const st = statSync(source, { throwIfNoEntry: false });
  if (st === undefined || !(st.isCharacterDevice() || st.isBlockDevice() || st.isDirectory()))
    throw new UsageError(
      'DEVICE_NOT_FOUND',
      `cannot add --device ${source}: ${st === undefined ? 'it does not exist' : 'it is not a device node or a folder of them'}`,
      { hint: 'name a device node of the host, e.g. /dev/dri/renderD128' },
    );
  return {
    destination,
    type: 'bind',
    source,
    options: [st.isDirectory() ? 'rbind' : 'bind', 'nosuid', 'noexec'],
  };
}
