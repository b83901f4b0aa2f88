// systemInfo reads the host through a root path: a made-up host shows each missing piece and its fix.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { systemInfo } from '../../../src/engine/system/system-info.js';

const root = mkdtempSync(join(tmpdir(), 'sysinfo-'));
afterAll(() => rmSync(root, { recursive: true }));
const put = (path: string, text: string) => {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), text);
};

it('reports disabled user namespaces, a small range, no /dev/fuse, cgroup v1, with fixes', async () => {
  const me = userInfo().username;
  put('proc/sys/user/max_user_namespaces', '0\n');
  put('etc/subuid', `${me}:200000:1000\n`);
  put(
    'proc/self/mounts',
    'cgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0\ncgroup /sys/fs/cgroup/memory cgroup rw,memory 0 0\n',
  );
  const info = await systemInfo(root);
  const byName = Object.fromEntries(info.checks.map((c) => [c.name, c]));
  expect(byName['user namespaces']).toEqual({
    name: 'user namespaces',
    ok: false,
    detail: 'user.max_user_namespaces is 0',
    fix: '`sudo sysctl user.max_user_namespaces=15000`',
  });
  expect(byName['/etc/subuid range']).toMatchObject({
    ok: false,
    detail: '200000-200999: 1000 ids, fewer than the 65536 most images expect',
  });
  expect(byName['/etc/subgid range']).toMatchObject({
    ok: false,
    fix: `\`sudo usermod --add-subgids 100000-165535 ${me}\``,
  });
  expect(byName['/dev/fuse']).toMatchObject({ ok: false, detail: 'missing: images cannot be mounted' });
  expect(byName['cgroups']).toMatchObject({
    ok: false,
    detail: 'v1 (hybrid): resource limits are not available rootless',
  });
  expect(byName['systemd user manager']).toMatchObject({ ok: false });
});
