// A run's path loads none of Node's built-in modules that it does not use (docs/startup.md, "Node's
// built-in modules on a run's path"): node:crypto (~3 ms of a start: ids come from /dev/urandom,
// the seccomp filter is found by its whole profile, the shared daemon is named by a JS SHA-256),
// node:child_process and node:dgram (loaded where a spawn or a UDP port needs them), node:readline
// (a short name's prompt). Read from
// each Node process's own list of what it loaded, written at its exit by a --require'd script.
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { requires } from '../helpers/host.js';
import { hutch, type Sandbox } from '../helpers/hutch-cli.js';
import { expectNoContainerFolders, useImageSandbox } from '../helpers/frames.js';
import { busyboxRootfs } from '../helpers/rootfs.js';

requires('fuse', 'subuid', 'newuidmap', 'busybox');

let box: Sandbox;
let rootfs: string;
useImageSandbox((b) => (box = b));
beforeAll(async () => void (rootfs = await busyboxRootfs(box.dir)));

/** The built-in modules the CLI process of `hutch run ARGS` loaded. */
async function loadedBy(args: string[]): Promise<string[]> {
  const dir = mkdtempSync(join(box.dir, 'loaded-'));
  const preload = join(dir, 'preload.cjs');
  writeFileSync(
    preload,
    `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(dir)} + '/' + process.pid, process.moduleLoadList.join('\\n')));\n`,
  );
  const child = hutch(['run', '--root', box.root, '--rm', ...args], { env: { NODE_OPTIONS: `--require ${preload}` } });
  const r = await child;
  expect(r.stderr).toBe('');
  expect(r.exitCode).toBe(0);
  expect(readdirSync(dir)).toContain(String(child.pid));
  return readFileSync(join(dir, String(child.pid)), 'utf8')
    .split('\n')
    .filter((m) => m.startsWith('NativeModule '))
    .map((m) => m.slice('NativeModule '.length));
}

describe("a run's CLI process", () => {
  const unused = (loaded: string[], names: string[]): string[] => {
    expect(loaded).toContain('fs'); // the list is the process's own
    return loaded.filter((m) => names.includes(m));
  };

  // A store's first run asks slirp4netns for its --help once (net/slirp.ts, cached after), through
  // execa and so child_process.
  it("loads no node:crypto on a store's first run", async () => {
    expect(unused(await loadedBy(['localhost/itest', 'true']), ['crypto'])).toEqual([]);
    expectNoContainerFolders(box.root);
  });

  it.each([
    ['a stored image', () => ['localhost/itest', 'true']],
    ['--rootfs DIR', () => ['--rootfs', rootfs, 'true']],
  ])('loads neither node:crypto, node:child_process, node:dgram nor node:readline: %s', async (_, args) => {
    const names = ['crypto', 'child_process', 'dgram', 'readline', 'readline/promises'];
    expect(unused(await loadedBy(args()), names)).toEqual([]);
    expectNoContainerFolders(box.root);
  });
});
