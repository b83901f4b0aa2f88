// hutch's one lookup of a tool by name (src/sys/on-path.ts): execvp's rules, an absolute result.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { findOnPath } from '../../src/sys/on-path.js';

let dir: string;
let cwd: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'on-path-'));
  cwd = process.cwd();
  for (const d of ['a', 'b', 'c']) mkdirSync(join(dir, d));
  mkdirSync(join(dir, 'a', 'tool'), { mode: 0o755 }); // a directory of that name
  writeFileSync(join(dir, 'b', 'tool'), '#!/bin/sh\n', { mode: 0o644 }); // not executable
  writeFileSync(join(dir, 'c', 'tool'), '#!/bin/sh\n', { mode: 0o755 });
});
afterEach(() => {
  process.chdir(cwd);
  rmSync(dir, { recursive: true });
});

describe('findOnPath', () => {
  it('passes over a directory and a file without x, and finds the executable file', () => {
    expect(findOnPath('tool', [join(dir, 'a'), join(dir, 'b'), join(dir, 'c')].join(':'))).toBe(join(dir, 'c', 'tool'));
  });
  it('takes an empty entry as the working directory and a relative one under it, returning absolute paths', () => {
    process.chdir(join(dir, 'c'));
    expect(findOnPath('tool', `/nonexistent::${join(dir, 'a')}`)).toBe(join(dir, 'c', 'tool'));
    process.chdir(dir);
    expect(findOnPath('tool', 'a:b:c')).toBe(join(dir, 'c', 'tool'));
  });
  it('is undefined when no entry has it', () => {
    chmodSync(join(dir, 'c', 'tool'), 0o644);
    expect(findOnPath('tool', [join(dir, 'a'), join(dir, 'b'), join(dir, 'c')].join(':'))).toBeUndefined();
    expect(findOnPath('no-such-tool-here')).toBeUndefined();
  });
});
