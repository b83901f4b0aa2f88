// The config.json `hutch runtime` tests write into a bundle: as an engine would write it (the
// user mapped to root, no terminal), then changed by the test.
import { writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';

/** Writes BUNDLE/config.json running `args`, after `change` edited it. */
export function writeBundleConfig(
  bundle: string,
  args: string[],
  change: (c: Record<string, any>) => void = () => undefined,
): void {
  const c: Record<string, any> = {
    ociVersion: '1.2.0',
    process: { user: { uid: 0, gid: 0 }, args, env: ['PATH=/bin'], cwd: '/' },
    root: { path: 'rootfs' },
    hostname: 'oci',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'mode=755'] },
    ],
    linux: {
      namespaces: [{ type: 'user' }, { type: 'mount' }, { type: 'pid' }, { type: 'uts' }, { type: 'ipc' }],
      uidMappings: [{ containerID: 0, hostID: userInfo().uid, size: 1 }],
      gidMappings: [{ containerID: 0, hostID: userInfo().gid, size: 1 }],
    },
  };
  change(c);
  writeFileSync(join(bundle, 'config.json'), JSON.stringify(c));
}
