// `hutch build` for a user without a /etc/subuid range (runs as `hutchnosub`), where rootless
// podman needs subuids: RUN works as root on the union filesystem, COPY --chown writes owners the
// namespace cannot map into the layer (a run shows them as the kernel's overflow id 65534).
// A chown in RUN to an unmapped id is caught by the helper's seccomp listener and recorded in the
// union (native/chown-notify.c): the layer carries the owner asked for, resolved inside the root.
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { readLayerIndex } from '../../fuse/layer-index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { missing, requires } from '../helpers/host.js';
import { hutch, sandbox, type Sandbox } from '../helpers/hutch-cli.js';
import { busyboxRootfs } from '../helpers/rootfs.js';

const noRangeUser = process.env.HUTCH_TEST_NOSUBID_USER;
const skip = userInfo().username !== noRangeUser && missing('subuid') === undefined;
let box: Sandbox;

describe.skipIf(skip)('hutch build without a subuid range', () => {
  beforeAll(async () => {
    requires('fuse', 'userns', 'busybox');
    box = sandbox();
    const ctx = join(box.dir, 'ctx');
    mkdirSync(ctx);
    const rootfs = await busyboxRootfs(box.dir);
    await execa('tar', ['--numeric-owner', '--owner=0', '--group=0', '-C', rootfs, '-cf', join(ctx, 'base.tar'), '.']);
    writeFileSync(join(ctx, 'f'), 'copied\n');
    writeFileSync(
      join(ctx, 'Containerfile'),
      'FROM scratch\nADD base.tar /\nRUN mkdir /d && echo x > /d/x && chmod 2750 /d\nCOPY --chown=1000:50 f /f\n',
    );
    mkdirSync(join(ctx, 'chown'));
    // Paths that would leave the root (.. past it, an absolute symlink) must stay inside it.
    const run = [
      'mkdir -p /etc /w/a && touch /etc/group /etc/passwd /f /mapped && ln -s /etc/passwd /abs && ln -s f /link && ln -s f /lïnk',
      'chown 33:33 /f && mkdir /d && chown 2:2 /d && chown 0:0 /mapped',
      'cd /w/a && chown 5:6 ../../../../etc/group && chown 7:8 /abs',
      'stat -c "%n %u:%g" /f /mapped',
      'if chown -h 1:1 /link 2>/dev/null; then echo "link chowned"; else echo "link refused"; fi',
      'chown -h 3:4 /lïnk',
      // An entry owned by an unmapped id is beyond root here, as an image's would be (docs/build.md).
      'if chown 9:9 /f 2>/dev/null; then echo "again chowned"; else echo "again refused"; fi',
      'if chown 9:9 /none 2>/dev/null; then echo "none chowned"; else echo "none refused"; fi',
    ].join(' && ');
    writeFileSync(join(ctx, 'chown', 'Containerfile'), `FROM scratch\nADD base.tar /\nRUN ${run}\n`);
  }, 60_000);
  afterAll(() => box?.remove());

  it('keeps the owners RUN and COPY --chown set, with only the user mapped', async () => {
    const h = (...args: string[]) =>
      hutch([args[0]!, '--root', box.root, ...args.slice(1)], { cwd: join(box.dir, 'ctx') });
    const built = await h('build', '-t', 'localhost/owned', '--network', 'none', '.');
    expect(built.exitCode, built.stderr).toBe(0);
    const run = await h('run', '--network', 'none', 'localhost/owned', 'stat', '-c', '%n %u:%g %a', '/d', '/d/x', '/f');
    expect(run.stdout.split('\n')).toEqual(['/d 0:0 2750', '/d/x 0:0 644', '/f 65534:65534 644']);
    const inspect = JSON.parse((await h('inspect', 'localhost/owned')).stdout) as { Layers: { Index: string }[] }[];
    const copied = readLayerIndex(inspect[0]!.Layers.at(-1)!.Index).find((e) => e.path === 'f');
    expect(copied).toMatchObject({ uid: 1000, gid: 50, mode: 0o644 });
  });

  it('records a RUN chown to unmapped ids in the layer, resolving paths inside the root', async () => {
    const h = (...args: string[]) =>
      hutch([args[0]!, '--root', box.root, ...args.slice(1)], { cwd: join(box.dir, 'ctx') });
    const before = ['/etc/passwd', '/etc/group'].map((p) => statSync(p));
    const built = await h('build', '-t', 'localhost/chowned', '--network', 'none', '-f', 'chown/Containerfile', '.');
    expect(built.exitCode, built.stderr).toBe(0);
    // Inside the step the new owner shows as the overflow id (not mapped); 0:0 went to the kernel.
    expect(built.stdout).toContain('/f 65534:65534\n/mapped 0:0\nlink chowned\nagain refused\nnone refused');
    const inspect = JSON.parse((await h('inspect', 'localhost/chowned')).stdout) as { Layers: { Index: string }[] }[];
    const owners = Object.fromEntries(
      readLayerIndex(inspect[0]!.Layers.at(-1)!.Index).map((e) => [e.path, `${e.uid}:${e.gid}`]),
    );
    expect(owners).toMatchObject({
      f: '33:33',
      d: '2:2',
      mapped: '0:0',
      'etc/group': '5:6',
      'etc/passwd': '7:8',
      link: '1:1',
      lïnk: '3:4',
    });
    expect(['/etc/passwd', '/etc/group'].map((p) => statSync(p))).toEqual(before);
  });
});
