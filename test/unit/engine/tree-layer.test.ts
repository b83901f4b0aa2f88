import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { missingTargets } from '../../../src/engine/setup/tree-layer.js';
import { existsInRoot } from '../../../src/sys/in-root.js';

let outside: string;
let root: string;
beforeEach(() => {
  outside = mkdtempSync(join(tmpdir(), 'tree-'));
  root = join(outside, 'root');
  mkdirSync(join(root, 'etc'), { recursive: true });
  mkdirSync(join(root, 'proc'));
  writeFileSync(join(outside, 'secret'), '');
  writeFileSync(join(root, 'etc', 'hosts'), '');
});
afterEach(() => rmSync(outside, { recursive: true }));

describe('existsInRoot', () => {
  it('resolves symlinks inside the root: an absolute or .. target cannot reach the host', () => {
    symlinkSync('/secret', join(root, 'etc', 'abs'));
    symlinkSync('../../../secret', join(root, 'etc', 'up'));
    symlinkSync('/etc/hosts', join(root, 'etc', 'inside'));
    symlinkSync('loop', join(root, 'etc', 'loop'));
    expect(existsInRoot(root, '/etc/hosts')).toBe(true);
    expect(existsInRoot(root, '/etc/inside')).toBe(true);
    expect(existsInRoot(root, '/etc/abs')).toBe(false);
    expect(existsInRoot(root, '/etc/up')).toBe(false);
    expect(existsInRoot(root, '/../secret')).toBe(false);
    expect(existsInRoot(root, '/etc/loop')).toBe(false);
  });

  it('applies .. after the symlink before it resolved', () => {
    mkdirSync(join(root, 'a', 'b'), { recursive: true });
    writeFileSync(join(root, 'a', 'file'), '');
    symlinkSync('/a/b', join(root, 'link'));
    expect(existsInRoot(root, '/link/../file')).toBe(true);
  });
});

describe('missingTargets', () => {
  it('names the destinations the tree lacks, not those inside an earlier mount', () => {
    const m = (destination: string) => ({ destination, type: 'bind', source: '/x' });
    expect(
      missingTargets(root, [
        m('/proc'),
        m('/dev'),
        m('/dev/pts'),
        m('/etc/hosts'),
        m('/etc/hostname'),
        m('/data/'),
        m('/data/sub'),
      ]),
    ).toEqual(['/dev', '/etc/hostname', '/data']);
  });
});
