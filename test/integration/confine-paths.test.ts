// Container paths that try to leave the root (issue 13, findings 3 and 5): `..` in -v, --tmpfs and
// an image's Volumes resolves inside the root (runc: `..` stops at the root) and creates nothing
// on the host; an image whose /proc or /sys is a symlink is refused, as runc refuses it.
import { chmodSync, existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hutch, type Sandbox } from '../helpers/hutch-cli.js';
import { useContainerSandbox } from '../helpers/frames.js';
import { fixtureLayers, writeImageLayout } from '../helpers/image-fixtures.js';

let box: Sandbox;
let rootfs: string;
const h = (...args: string[]) => hutch([args[0]!, '--root', box.root, ...args.slice(1)]);

useContainerSandbox((b, r) => ((box = b), (rootfs = r)));

describe('`..` in container paths', () => {
  it('dotdot-escape: -v SRC:/../x and --tmpfs /../y mount inside the root and create nothing beside it', async () => {
    const src = join(box.dir, 'src');
    mkdirSync(src);
    writeFileSync(join(src, 'file'), 'bound\n');
    const r = await h(
      'run',
      '--rootfs',
      rootfs,
      '-v',
      `${src}:/../../escape-v`,
      '--tmpfs',
      '/../escape-t',
      '--',
      'sh',
      '-c',
      'cat /escape-v/file; grep -c " /escape-t tmpfs" /proc/mounts',
    );
    expect(r.stderr).toBe('');
    expect(String(r.stdout).split('\n')).toEqual(['bound', '1']);
    for (const dir of [box.dir, join(box.dir, '..')])
      for (const name of ['escape-v', 'escape-t']) expect(existsSync(join(dir, name)), join(dir, name)).toBe(false);
  });

  it('dotdot-escape: an image Volume /../escape-img is made inside the root, not beside it on the host', async () => {
    const layout = join(box.dir, 'layout');
    const image = await writeImageLayout(layout, 'vol', fixtureLayers(), { Volumes: { '/../../escape-img': {} } });
    expect((await h('pull', '-q', `oci:${layout}:vol`)).exitCode).toBe(0);
    const r = await h(
      'run',
      '--rm',
      '--storage-driver=vfs',
      image.configDigest.slice(7),
      'sh',
      '-c',
      'grep -c " /escape-img " /proc/mounts',
    );
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('1');
    const stray = (dir: string): boolean => existsSync(join(dir, 'escape-img'));
    expect([stray(box.dir), stray(box.root), stray(join(box.root, 'data'))]).toEqual([false, false, false]);
  });
});

describe('/proc and /sys must be ordinary directories', () => {
  it.each(['proc', 'sys'])(
    'symlinked-%s: an image whose /%s is a symlink is refused and leaves nothing',
    async (name) => {
      rmSync(join(rootfs, name), { recursive: true });
      symlinkSync('tmp', join(rootfs, name));
      const r = await h('run', '--rootfs', rootfs, '--', 'cat', '/proc/keys');
      expect(r.exitCode).toBe(125);
      expect(r.stderr).toContain(
        `/${name} in the root filesystem is a symlink: ${name === 'proc' ? 'proc' : 'sysfs'} must be mounted on an ordinary directory`,
      );
    },
  );
});

describe('state directories', () => {
  it('state-dir-takeover: a world-writable or symlinked --root is refused by both faces', async () => {
    const open = join(box.dir, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    const run = await hutch(['run', '--root', open, '--rootfs', rootfs, '--', 'true']);
    expect(run.exitCode).toBe(125);
    expect(run.stderr).toContain(
      `cannot use ${open} as the state directory (--root): others may write to it (mode 777)`,
    );
    const link = join(box.dir, 'link');
    symlinkSync(box.dir, link);
    const rt = await hutch(['runtime', '--root', link, 'list']);
    expect(rt.exitCode).toBe(125);
    expect(rt.stderr).toContain(`cannot use ${link} as the runtime state directory (--root): it is a symlink`);
  });
});
