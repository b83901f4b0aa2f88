import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { koffiPrebuilt, loadKoffi } from '../../src/sys/koffi.js';

const require = createRequire(import.meta.url);
const repo = join(import.meta.dirname, '..', '..');
const koffiVersion = (
  JSON.parse(readFileSync(join(repo, 'node_modules', 'koffi', 'package.json'), 'utf8')) as { version: string }
).version;
const platformPackage = `@koromix/koffi-linux-${process.arch}`;
const dir = mkdtempSync(join(tmpdir(), 'koffi-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A package tree at `root`: koffi's package.json of `version`, the platform package at `at` (relative to node_modules). */
function tree(root: string, version: string, at?: string): string {
  const koffi = join(root, 'node_modules', 'koffi');
  mkdirSync(koffi, { recursive: true });
  writeFileSync(join(koffi, 'package.json'), JSON.stringify({ name: 'koffi', version }));
  if (at !== undefined) {
    const link = join(root, 'node_modules', at, platformPackage);
    mkdirSync(dirname(link), { recursive: true });
    symlinkSync(join(repo, 'node_modules', platformPackage), link);
  }
  const from = join(root, 'dist', 'bundle');
  mkdirSync(from, { recursive: true });
  return from;
}

describe('koffi loaded without its own loader (src/sys/koffi.ts)', () => {
  it("loads this checkout's platform koffi.node directly, not koffi's loader, and it works", () => {
    const koffi = loadKoffi();
    expect(koffi.version).toBe(koffiVersion);
    expect(typeof koffi.load('libc.so.6').func('int getpid(void)')()).toBe('number');
    const cached = Object.keys(require.cache);
    expect(cached.some((f) => f.endsWith(`${platformPackage}/linux_${process.arch}/koffi.node`))).toBe(true);
    expect(cached.filter((f) => f.includes('/node_modules/koffi/'))).toEqual([]);
  });

  it('finds the platform package hoisted beside koffi or nested under it, from any depth below', () => {
    expect(koffiPrebuilt(tree(join(dir, 'hoisted'), koffiVersion, '.'))?.version).toBe(koffiVersion);
    expect(koffiPrebuilt(tree(join(dir, 'nested'), koffiVersion, 'koffi/node_modules'))?.version).toBe(koffiVersion);
  });

  it("leaves it to koffi's loader where the platform package is missing or of another version", () => {
    expect(koffiPrebuilt(tree(join(dir, 'missing'), koffiVersion))).toBeUndefined();
    expect(koffiPrebuilt(tree(join(dir, 'other'), '0.0.1', '.'))).toBeUndefined();
    expect(koffiPrebuilt('/')).toBeUndefined();
  });
});
