// `hutch commit`: a container that added, changed and deleted files of its image's layers becomes
// an image; a run of that image sees exactly the container's view (names, owners, modes, types,
// contents), and --change/--message/--author reach the config; `hutch diff` lists the same changes, `hutch export` gives the same tree.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { requires } from '../helpers/host.js';
import { hutch, type Sandbox } from '../helpers/hutch-cli.js';
import { useImageSandbox } from '../helpers/frames.js';

requires('fuse', 'subuid', 'newuidmap', 'busybox');

let box: Sandbox;
const IMAGE = 'localhost/itest';
const h = (...args: string[]) => {
  const at = args[0] === 'image' ? 2 : 1; // --root after the verb and its subcommand
  return hutch([...args.slice(0, at), '--root', box.root, ...args.slice(at)]);
};

useImageSandbox((b) => (box = b));

const SKIP =
  '! -path ./proc ! -path ./sys ! -path ./dev ! -path ./etc/hosts ! -path ./etc/hostname ! -path ./etc/resolv.conf';
/** Every path of the root filesystem with owner, mode and type, then every file's md5. */
const VIEW = `cd / && find . -xdev ${SKIP} | sort | while read -r f; do stat -c '%n %u:%g %a %F' "$f"; done && find . -xdev -type f ${SKIP} | sort | xargs md5sum`;
const CHANGES = [
  'echo added > /added && chown 1000:1000 /added && chmod 640 /added && ln /added /added2 && ln -s /added /link',
  'mkdir -p /newdir/sub && chown 1000:0 /newdir/sub && chmod 2770 /newdir/sub && echo deep > /newdir/sub/f',
  'echo changed >> /etc/group && rm /bin/vi /data/keep && rm -rf /data && mkdir /data && echo fresh > /data/fresh',
].join(' && ');

describe('hutch commit', () => {
  it("makes the writable layer a layer: a run of the image shows exactly the container's view", async () => {
    expect(
      (await h('create', '--name', 'src', '--network', 'none', '-u', '0', IMAGE, 'sh', '-c', `${CHANGES} && ${VIEW}`))
        .exitCode,
    ).toBe(0);
    expect((await h('start', 'src')).exitCode).toBe(0);
    expect((await h('wait', 'src')).stdout).toBe('0');
    const view = (await h('logs', 'src')).stdout;
    expect(view).toContain('./added 1000:1000 640 regular file');
    expect(view).toContain('./newdir/sub 1000:0 2770 directory');
    expect(view).not.toContain('./bin/vi');
    expect(view).not.toContain('./data/keep');
    const diff = await h('diff', 'src');
    expect(diff.stderr).toBe('');
    expect(diff.stdout.split('\n')).toEqual([
      'A /added',
      'A /added2',
      'C /bin',
      'D /bin/vi',
      'C /data',
      'A /data/fresh',
      'C /etc',
      'C /etc/group',
      'A /link',
      'A /newdir',
      'A /newdir/sub',
      'A /newdir/sub/f',
    ]);
    // export: the merged tree as a tar; imported as an image, a run of it shows the same view.
    const tarFile = join(box.dir, 'exported.tar');
    expect((await h('export', '-o', tarFile, 'src')).exitCode).toBe(0);
    expect((await h('import', tarFile, 'localhost/flat')).exitCode).toBe(0);
    const flat = await h('run', '--network', 'none', '-u', '0', 'localhost/flat', 'sh', '-c', VIEW);
    const noVol = (text: string): string =>
      text
        .split('\n')
        .filter((l) => !l.startsWith('./vol '))
        .join('\n');
    expect(noVol(flat.stdout)).toBe(noVol(view));
    const committed = await h(
      'commit',
      '--change',
      'ENV NEW=yes',
      '--change',
      'CMD ["cat", "/data/fresh"]',
      '-m',
      'three changes',
      '-a',
      'Tess <t@example.org>',
      'src',
      'localhost/committed:v1',
    );
    expect(committed.stderr).toBe('');
    expect(committed.stdout).toMatch(/^[0-9a-f]{64}$/);
    const again = await h('run', '--network', 'none', '-u', '0', 'localhost/committed:v1', 'sh', '-c', VIEW);
    expect(again.stderr).toBe('');
    expect(again.stdout).toBe(view);
    const config = await h('run', '--network', 'none', 'localhost/committed:v1');
    expect(config.stdout).toBe('fresh');
    expect(
      (await h('run', '--network', 'none', 'localhost/committed:v1', 'sh', '-c', 'echo $NEW $GREETING')).stdout,
    ).toBe('yes hello-from-image');
    const inspect = JSON.parse((await h('image', 'inspect', 'localhost/committed:v1')).stdout);
    expect(JSON.stringify(inspect)).toContain('three changes');
    expect(JSON.stringify(inspect)).toContain('Tess <t@example.org>');
    expect((await h('rm', '-f', 'src')).exitCode).toBe(0);
  }, 240_000); // some fifteen hutch runs, slow on a loaded machine

  it('refuses a bad --change and an unknown container, storing nothing', async () => {
    expect((await h('create', '--name', 'c2', '--network', 'none', IMAGE, 'true')).exitCode).toBe(0);
    const before = (await h('images', '-q')).stdout;
    const bad = await h('commit', '--change', 'RUN rm -rf /', 'c2', 'localhost/bad');
    expect(bad.exitCode).toBe(125);
    expect(bad.stderr.split('\n')[0]).toBe(
      'hutch: invalid --change "RUN rm -rf /": RUN is not an instruction it accepts',
    );
    const missing = await h('commit', 'nosuch', 'localhost/bad');
    expect(missing.stderr.split('\n')[0]).toBe('hutch: no such container: nosuch');
    expect((await h('images', '-q')).stdout).toBe(before);
    expect((await h('rm', '-f', 'c2')).exitCode).toBe(0);
  });
});
