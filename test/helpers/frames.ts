// The per-test frames container tests share: a fresh sandbox (its own --root), a busybox root
// filesystem, and after each test no process, mount or runtime file left, and no record.
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, expect } from 'vitest';
import { requires } from './host.js';
import { sandbox, type Sandbox } from './hutch-cli.js';
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
