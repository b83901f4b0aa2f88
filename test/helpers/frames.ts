// The per-test frames container tests share: a fresh sandbox (its own --root), a busybox root
// filesystem, and after each test no process, mount or runtime file left, and no record.
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, afterEach, beforeAll, beforeEach, expect } from 'vitest';
import { requires } from './host.js';
import { hutch, REPO, sandbox, type Sandbox } from './hutch-cli.js';
import { expectNoLeaks, leakSnapshot, type LeakSnapshot } from './leaks.js';
import { busyboxRootfs } from './rootfs.js';

/** Entries of `dir` other than dot files (locks), or none when it does not exist. */
function entries(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((f) => !f.startsWith('.')) : [];
}

/** `hutch` user-face tests: `onEach` gets the sandbox and a rootfs before each test. */
export function useContainerSandbox(onEach: (box: Sandbox, rootfs: string) => void): void {
  let box: Sandbox;
  let before: LeakSnapshot;
  beforeAll(() => requires('userns', 'subuid', 'newuidmap', 'busybox'));
  beforeEach(async () => {
    box = sandbox();
    onEach(box, await busyboxRootfs(box.dir));
    before = leakSnapshot();
  });
  afterEach(async () => {
    await expectNoLeaks(before, [join(box.root, 'run')]);
    expect(entries(join(box.root, 'data', 'containers'))).toEqual([]);
    box.remove();
  });
}

/** `hutch runtime` tests: `onEach` gets the sandbox and a bundle (busybox in bundle/rootfs). */
export function useBundleSandbox(onEach: (box: Sandbox, bundle: string) => void): void {
  let box: Sandbox;
  let before: LeakSnapshot;
  beforeAll(() => requires('userns', 'busybox'));
  beforeEach(async () => {
    box = sandbox();
    const bundle = join(box.dir, 'bundle');
    mkdirSync(bundle);
    await busyboxRootfs(bundle);
    onEach(box, bundle);
    before = leakSnapshot();
  });
  afterEach(async () => {
    await expectNoLeaks(before);
    expect(entries(join(box.dir, 'rt'))).toEqual([]);
    box.remove();
  });
}

/**
 * `hutch run IMAGE` tests: one sandbox per file with the fixture image (localhost/itest) loaded
 * into its store; after each test no process, mount or runtime file left.
 */
export function useImageSandbox(onAll: (box: Sandbox) => void): void {
  let box: Sandbox;
  beforeAll(async () => {
    box = sandbox();
    onAll(box);
    await execa('bash', [join(REPO, 'test/fixtures/image-archive.sh'), join(box.dir, 'fx')]);
    const loaded = await hutch(['load', '--root', box.root, '-q', '-i', join(box.dir, 'fx', 'it.tar')]);
    expect(loaded.stderr).toBe('');
  }, 60_000);
  afterAll(() => box.remove());
  useLeakCheck(() => box.root);
}

/**
 * For a sandbox kept for the whole file (its --root given by `root`): after each test no process,
 * mount or runtime file left.
 */
export function useLeakCheck(root: () => string): void {
  let before: LeakSnapshot;
  beforeEach(() => {
    before = leakSnapshot();
  });
  afterEach(async () => {
    await expectNoLeaks(before, [join(root(), 'run')]);
  });
}

/** No container's folder left in the store at `root` (the .lock files are the store's). */
export function expectNoContainerFolders(root: string): void {
  for (const dir of ['data/containers', 'data/ephemeral', 'run/ephemeral'])
    expect(entries(join(root, dir)), `folders left in ${dir}`).toEqual([]);
}
