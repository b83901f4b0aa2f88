// Installing hutch as a newcomer does, as the test user: `npm pack` (prepack builds dist/) and
// `npm install -g --prefix DIR` of the tarball (the install step builds the helper), then the
// installed hutch runs a container, hutch-runtime answers, and mount.fuse3 (what mount -t
// fuse.hutch-fs runs) starts the installed hutch-fs from PATH. And the checkout itself, which npm
// links: its install step builds the helper, or says to run `npm ci` first.
import { execa, execaSync, type Options } from 'execa';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, sandbox } from '../helpers/hutch-cli.js';
import { requires } from '../helpers/host.js';
import { expectNoLeaks, leakSnapshot } from '../helpers/leaks.js';
import { busyboxRootfs } from '../helpers/rootfs.js';
import { startAgent } from '../helpers/userns.js';

const box = sandbox();
const src = join(box.dir, 'src');
const prefix = join(box.dir, 'prefix');
const bin = (name: string): string => join(prefix, 'bin', name);
const npmEnv: Options = {
  env: { npm_config_update_notifier: 'false', npm_config_audit: 'false', npm_config_fund: 'false' },
};
let tarball = '';

/** A copy of the checkout as a clone has it (no dist/, no helper binary), sharing node_modules. */
function cloneOfCheckout(dir: string, withModules: boolean): void {
  mkdirSync(dir, { recursive: true });
  const skip = [
    './node_modules',
    './dist',
    './.git',
    './native/hutch-nsexec',
    './native/hutch-forwarder',
    './native/hutch-runtime-front',
    './native/hutch-run-front',
    './test-results',
    './.vitest-results.json',
    './.vitest-summary',
  ];
  execaSync('sh', [
    '-c',
    `tar -C "$0" ${skip.map((s) => `--exclude=${s}`).join(' ')} -cf - . | tar -C "$1" -xf -`,
    REPO,
    dir,
  ]);
  if (withModules) symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'));
}

beforeAll(async () => {
  requires('userns', 'subuid', 'newuidmap', 'busybox', 'fuse');
  cloneOfCheckout(src, true);
  const pack = await execa('npm', ['pack', '--pack-destination', box.dir], { cwd: src, ...npmEnv });
  tarball = join(box.dir, String(pack.stdout).trim().split('\n').pop()!);
  await execa('npm', ['install', '-g', '--prefix', prefix, tarball], npmEnv);
}, 900_000);
afterAll(() => box.remove());

describe('npm install -g of an npm pack tarball', () => {
  it('carries the bundle and the helper source, not the sources or a helper binary', async () => {
    const files = (await execa('tar', ['-tzf', tarball])).stdout.split('\n');
    for (const f of [
      'bin/hutch',
      'bin/hutch-runtime',
      'bin/hutch-fs',
      'dist/bundle/cli.cjs',
      'dist/bundle/fuseDaemon.cjs',
      'dist/src/cli/bundle-loader.cjs',
      'dist/src/cli/early-monitor.cjs',
      'dist/src/sys/waiting-child.cjs',
      'native/nsexec.c',
      'native/forwarder.c',
      'native/Makefile',
    ]) {
      expect(files).toContain(`package/${f}`);
    }
    expect(
      files.filter((f) =>
        /^package\/((src|test|fuse|net)\/|native\/hutch-(nsexec|forwarder|runtime-front|run-front)$)/.test(f),
      ),
    ).toEqual([]);
  });

  it('puts hutch, hutch-runtime and hutch-fs on PATH, with the helper built at install', async () => {
    expect(existsSync(join(prefix, 'lib', 'node_modules', 'hutch', 'native', 'hutch-nsexec'))).toBe(true);
    expect(existsSync(join(prefix, 'lib', 'node_modules', 'hutch', 'native', 'hutch-forwarder'))).toBe(true);
    expect(existsSync(join(prefix, 'lib', 'node_modules', 'hutch', 'native', 'hutch-runtime-front'))).toBe(true);
    expect((await execa(bin('hutch'), ['--version'])).stdout).toBe('0.1.0');
    const features = await execa(bin('hutch-runtime'), ['features']);
    expect(JSON.parse(features.stdout)).toHaveProperty('ociVersionMin');
    const state = await execa(bin('hutch-runtime'), ['--root', join(box.dir, 'oci'), 'state', 'none'], {
      reject: false,
    });
    expect(state.stderr).toContain('container none does not exist'); // sh finds its C front through npm's symlink
    const usage = await execa(bin('hutch-fs'), [], { reject: false });
    expect(usage.exitCode).not.toBe(0);
    expect(usage.stderr.split('\n')[0]).toContain('hutch-fs: hutch-fs takes one mount point');
  });

  it('runs a container as the test user, leaving nothing behind', async () => {
    const before = leakSnapshot();
    const rootfs = await busyboxRootfs(box.dir);
    const root = join(box.dir, 'state');
    const r = await execa(
      bin('hutch'),
      ['run', '--root', root, '--rootfs', rootfs, '--', 'sh', '-c', 'id -u; head -1 /proc/self/uid_map'],
      { reject: false },
    );
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    const [inside, map] = r.stdout.split('\n');
    expect(inside).toBe('0');
    expect(map!.trim().split(/\s+/)).toEqual(['0', String(userInfo().uid), '1']);
    await expectNoLeaks(before, [join(root, 'run')]);
  });

  it("loads koffi's platform binary from the installed tree directly, not through koffi's loader (src/sys/koffi.ts)", async () => {
    const rootfs = await busyboxRootfs(box.dir);
    const seen = join(box.dir, 'required.txt');
    const watcher = join(box.dir, 'watch-requires.cjs');
    writeFileSync(
      watcher,
      `const fs = require('fs'), M = require('module'), load = M._load;
M._load = function (r, ...a) { fs.appendFileSync(${JSON.stringify(seen)}, r + '\\n'); return load.call(this, r, ...a); };`,
    );
    const r = await execa(bin('hutch'), ['run', '--rm', '--root', join(box.dir, 'state'), '--rootfs', rootfs, 'true'], {
      reject: false,
      env: { NODE_OPTIONS: `--require=${watcher}` },
    });
    expect(r.exitCode).toBe(0);
    const required = readFileSync(seen, 'utf8').split('\n');
    const installed = join(prefix, 'lib', 'node_modules', 'hutch', 'node_modules', '@koromix');
    expect(required).toContain(join(installed, `koffi-linux-${process.arch}`, `linux_${process.arch}`, 'koffi.node'));
    expect(required).not.toContain('koffi');
  });

  it('hutch-fs mounts as mount.fuse3 starts it (mount -t fuse.hutch-fs), found on PATH', async () => {
    const dir = join(box.dir, 'fs');
    for (const d of ['lower', 'upper', 'work', 'mnt']) mkdirSync(join(dir, d), { recursive: true });
    writeFileSync(join(dir, 'lower', 'hello'), 'from the lower layer\n');
    const ns = startAgent('range', dir);
    try {
      // mount(8) runs /sbin/mount.fuse3 with the system PATH (/usr/local/bin, /usr/bin, ...): npm's default prefix.
      await ns.ok(
        `PATH=${join(prefix, 'bin')}:$PATH:/usr/sbin:/sbin mount.fuse3 hutch-fs mnt -t hutch-fs -o rw,lowerdir=${dir}/lower,upperdir=${dir}/upper,workdir=${dir}/work,nosuid`,
      );
      expect(await ns.ok('cat mnt/hello; echo new > mnt/added; grep -c " fuse.hutch-fs " /proc/self/mountinfo')).toBe(
        'from the lower layer\n1\n',
      );
      await ns.ok('umount mnt');
      expect(await ns.ok('cat upper/added; grep -c " fuse.hutch-fs " /proc/self/mountinfo || true')).toBe('new\n0\n');
    } finally {
      await ns.close();
    }
  });
});

describe('npm install -g of the checkout', () => {
  it('links it, and its install step builds the helper', async () => {
    rmSync(join(src, 'native', 'hutch-nsexec')); // built by prepack above; the install step makes it again
    const linked = join(box.dir, 'prefix-checkout');
    await execa('npm', ['install', '-g', '--prefix', linked, src], npmEnv);
    expect(existsSync(join(src, 'native', 'hutch-nsexec'))).toBe(true);
    expect((await execa(join(linked, 'bin', 'hutch'), ['--version'])).stdout).toBe('0.1.0');
  });

  it('says to run npm ci first when the checkout has no dependencies to build dist/ with', async () => {
    const bare = join(box.dir, 'bare');
    cloneOfCheckout(bare, false);
    const r = await execa('npm', ['install', '-g', '--prefix', join(box.dir, 'prefix-bare'), bare], {
      ...npmEnv,
      reject: false,
    });
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toContain(
      `hutch: cannot install: ${bare} is a checkout without its npm dependencies, so dist/ cannot be built`,
    );
    expect(r.stderr).toContain(`hint: run \`npm ci\` in ${bare} first`);
  });
});
