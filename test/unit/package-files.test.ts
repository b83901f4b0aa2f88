// src/sys/package-files.ts: hutch's binaries are looked for in its own folder only, never in a
// native/ of a folder above it (another user may plant one in /tmp or a shared parent).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { nativeFile, packageRoot } from '../../src/sys/package-files.js';

let top: string;
beforeEach(() => void (top = mkdtempSync(join(tmpdir(), 'hutch-pkg-'))));
afterEach(() => rmSync(top, { recursive: true, force: true }));

describe('package files', () => {
  it("finds native/NAME in hutch's own folder, from src/sys or dist/bundle", () => {
    const pkg = join(top, 'hutch');
    mkdirSync(join(pkg, 'native'), { recursive: true });
    mkdirSync(join(pkg, 'dist', 'bundle'), { recursive: true });
    writeFileSync(join(pkg, 'native', 'Makefile'), '');
    writeFileSync(join(pkg, 'native', 'hutch-nsexec'), '');
    expect(packageRoot(join(pkg, 'dist', 'bundle'))).toBe(pkg);
    expect(nativeFile('hutch-nsexec', join(pkg, 'dist', 'bundle'))).toBe(join(pkg, 'native', 'hutch-nsexec'));
  });

  it('never takes one from a folder above its own, when its own is not built', () => {
    const pkg = join(top, 'hutch');
    mkdirSync(join(pkg, 'native'), { recursive: true });
    writeFileSync(join(pkg, 'native', 'Makefile'), '');
    mkdirSync(join(top, 'native'));
    writeFileSync(join(top, 'native', 'hutch-fs-pages.so'), 'planted');
    expect(nativeFile('hutch-fs-pages.so', join(pkg, 'dist', 'bundle'))).toBeUndefined();
  });

  it("this checkout's own folder holds native/Makefile", () => {
    expect(packageRoot()).toBe(join(import.meta.dirname, '..', '..'));
  });
});
