// Load (issue 14): 50 containers started and removed one after another, and 10 at once, on the
// union filesystem of an image. Measured before and after: processes below the test (and any
// hutch-nsexec of this checkout), mounts in the test's namespace, the test process's open fds,
// and the store's files and bytes. Nothing may grow.
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { requires } from '../helpers/host.js';
import { hutch, REPO, sandbox, type Sandbox } from '../helpers/hutch-cli.js';
import { expectNoLeaks, leakSnapshot } from '../helpers/leaks.js';

requires('fuse', 'subuid', 'newuidmap', 'busybox');

const IMAGE = 'localhost/itest';
let box: Sandbox;

beforeAll(async () => {
  box = sandbox();
  await execa('bash', [join(REPO, 'test/fixtures/image-archive.sh'), join(box.dir, 'fx')]);
  expect((await hutch(['load', '--root', box.root, '-q', '-i', join(box.dir, 'fx', 'it.tar')])).stderr).toBe('');
  // One of each first: what a first run makes once (the code cache, the store's folders) is no leak.
  const first = await hutch(['run', '-d', '--root', box.root, '--network', 'none', IMAGE, 'sleep', '100']);
  await hutch(['rm', '-f', '--root', box.root, first.stdout.trim()]);
  await hutch(['run', '--rm', '--root', box.root, '--network', 'none', IMAGE, 'true']);
}, 120_000);
afterAll(() => box.remove());

/** Every file under the state folder with its size (locks and the empty staging folder aside). */
function storeUsage(): { files: string[]; bytes: number } {
  const files: string[] = [];
  let bytes = 0;
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      if (e.name.endsWith('lock')) continue;
      if (e.isDirectory()) walk(path);
      else {
        files.push(relative(box.root, path));
        bytes += statSync(path).size;
      }
    }
  };
  walk(box.root);
  return { files: files.sort(), bytes };
}

const openFds = (): number => readdirSync('/proc/self/fd').length;

describe('load', () => {
  test('50 containers started (run -d) and removed (rm -f) one after another leak nothing', async () => {
    const leaks = leakSnapshot();
    const usage = storeUsage();
    const fds = openFds();
    for (let i = 0; i < 50; i++) {
      const started = await hutch(['run', '-d', '--root', box.root, '--network', 'none', IMAGE, 'sleep', '100']);
      expect(started.stderr, `run ${i}`).toBe('');
      const removed = await hutch(['rm', '-f', '--root', box.root, started.stdout.trim()]);
      expect(removed.exitCode, `rm ${i}: ${removed.stderr}`).toBe(0);
    }
    await expectNoLeaks(leaks, [join(box.root, 'run')]);
    expect(openFds()).toBe(fds);
    expect(storeUsage()).toEqual(usage);
  }, 900_000);

  test('10 containers at once (run --rm) leak nothing', async () => {
    const leaks = leakSnapshot();
    const usage = storeUsage();
    const fds = openFds();
    const runs = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        hutch([
          'run',
          '--rm',
          '--root',
          box.root,
          '--network',
          'none',
          IMAGE,
          'sh',
          '-c',
          `echo run-${i} > /tmp/x; cat /tmp/x`,
        ]),
      ),
    );
    const wrong = runs
      .map((r, i) => ({ run: i, exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr }))
      .filter((r) => r.exitCode !== 0 || r.stdout !== `run-${r.run}`);
    expect(wrong, 'runs with a wrong status or output').toEqual([]);
    await expectNoLeaks(leaks, [join(box.root, 'run')]);
    expect(openFds()).toBe(fds);
    expect(storeUsage()).toEqual(usage);
  }, 600_000);
});
