// The frame of every container test: a fresh sandbox and busybox rootfs per test, and after it
// the leak check (no process, mount or runtime file left behind).
import { join } from 'node:path';
import type { Options, ResultPromise } from 'execa';
import { afterEach, beforeEach } from 'vitest';
import { hutch, sandbox, type Sandbox } from './hutch-cli.js';
import { expectNoLeaks, leakSnapshot, type LeakSnapshot } from './leaks.js';
import { busyboxRootfs } from './rootfs.js';

export interface ContainerTest {
  /** This test's sandbox and rootfs copy (valid inside a test). */
  readonly box: Sandbox;
  readonly rootfs: string;
  /** The argv of `hutch run --root … --rootfs … ARGS -- CMD…`. */
  args(args: string[], cmd: string[]): string[];
  /** `hutch run ARGS -- CMD…`. */
  run(args: string[], cmd: string[], options?: Options): ResultPromise;
  /** `hutch run ARGS -- sh -c SCRIPT`. */
  sh(script: string, args?: string[], options?: Options): ResultPromise;
}

/** Registers the per-test hooks of a container test file and returns its context. */
export function containerTest(): ContainerTest {
  let box: Sandbox | undefined;
  let rootfs = '';
  let before: LeakSnapshot;
  beforeEach(async () => {
    box = sandbox();
    rootfs = await busyboxRootfs(box.dir);
    before = leakSnapshot();
  });
  afterEach(async () => {
    try {
      await expectNoLeaks(before, [join(box!.root, 'run')]);
    } finally {
      box!.remove();
    }
  });
  const args = (a: string[], cmd: string[]): string[] => [
    'run',
    '--root',
    box!.root,
    '--rootfs',
    rootfs,
    ...a,
    '--',
    ...cmd,
  ];
  return {
    get box() {
      return box!;
    },
    get rootfs() {
      return rootfs;
    },
    args,
    run: (a, cmd, options) => hutch(args(a, cmd), options),
    sh: (script, a = [], options) => hutch(args(a, ['sh', '-c', script]), options),
  };
}
