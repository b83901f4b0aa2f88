// Files of a hostile tree read as a process chrooted there would see them (src/sys/in-root.ts):
// the user database of a --rootfs tree or an image layer never comes from the host.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { userDatabase } from '../../src/engine/spec/image-config.js';
import { userDbIn } from '../../src/engine/spec/users.js';
import { readFileInRoot } from '../../src/sys/in-root.js';

let outside: string;
let root: string;
beforeEach(() => {
  outside = mkdtempSync(join(tmpdir(), 'in-root-'));
  root = join(outside, 'root');
  mkdirSync(join(root, 'etc'), { recursive: true });
  writeFileSync(join(outside, 'secret'), 'host:x:0:0::/host:/bin/sh\n');
});
afterEach(() => rmSync(outside, { recursive: true }));

describe('readFileInRoot', () => {
  it("reads the tree's file, following links inside the tree only", () => {
    mkdirSync(join(root, 'usr', 'lib'), { recursive: true });
    writeFileSync(join(root, 'usr', 'lib', 'passwd'), 'tree\n');
    symlinkSync('/usr/lib/passwd', join(root, 'etc', 'inside'));
    symlinkSync(join(outside, 'secret'), join(root, 'etc', 'abs'));
    symlinkSync('../../secret', join(root, 'etc', 'up'));
    expect(readFileInRoot(root, '/etc/inside')).toBe('tree\n');
    expect(readFileInRoot(root, '/etc/abs')).toBeUndefined();
    expect(readFileInRoot(root, '/etc/up')).toBeUndefined();
    expect(readFileInRoot(root, '/../secret')).toBeUndefined();
  });

  it('reads no directory, FIFO or missing file', () => {
    mkdirSync(join(root, 'etc', 'dir'));
    execFileSync('mkfifo', [join(root, 'etc', 'fifo')]);
    expect(readFileInRoot(root, '/etc/dir')).toBeUndefined();
    expect(readFileInRoot(root, '/etc/fifo')).toBeUndefined();
    expect(readFileInRoot(root, '/etc/none')).toBeUndefined();
  });
});

describe('the user database of a tree', () => {
  it("never reads the host's files through a link", () => {
    symlinkSync(join(outside, 'secret'), join(root, 'etc', 'passwd'));
    symlinkSync('/etc/group', join(root, 'etc', 'group')); // itself: a loop inside the tree
    expect(userDbIn(root)).toEqual({ passwd: '', group: '' });
  });

  it("reads an image layer's files inside that layer, the topmost layer that has one first", () => {
    const lower = join(outside, 'lower');
    mkdirSync(join(lower, 'etc'), { recursive: true });
    writeFileSync(join(lower, 'etc', 'passwd'), 'lower\n');
    writeFileSync(join(lower, 'etc', 'group'), 'lowergroup\n');
    symlinkSync(join(outside, 'secret'), join(root, 'etc', 'passwd')); // the upper layer's: absent inside it
    writeFileSync(join(root, 'etc', 'group'), 'upper\n');
    const layers = [{ dir: lower }, { dir: root }] as unknown as Parameters<typeof userDatabase>[0]['layers'];
    expect(userDatabase({ layers })).toEqual({ passwd: 'lower\n', group: 'upper\n' });
  });
});
