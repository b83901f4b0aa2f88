// bin/hutch runs the bundle through a V8 code cache (src/cli/bundle-loader.cts): a cache appears
// after a verb's first run, a damaged or foreign one costs nothing but its compile time, and a
// folder others may write to is never used (a cache is code).
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hutch, REPO, sandbox, type Sandbox } from '../helpers/hutch-cli.js';

let box: Sandbox;
let runtime: string;
beforeEach(() => {
  box = sandbox();
  runtime = join(box.dir, 'xdg-run');
  mkdirSync(runtime, { mode: 0o700 });
});
afterEach(() => box.remove());

const cacheDir = (): string => join(runtime, 'hutch', 'code-cache');
const version = (): ReturnType<typeof hutch> =>
  hutch(['version'], { env: { XDG_RUNTIME_DIR: runtime, HUTCH_CODE_CACHE_DIR: undefined } });

describe('the code cache', () => {
  it("is written by a verb's first run and used by the next", async () => {
    expect((await version()).stdout).toMatch(/^hutch version /);
    const files = readdirSync(cacheDir());
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^cli-version-\d+-\d+-v[\d.]+\.v8$/);
    expect((await version()).stdout).toMatch(/^hutch version /);
    expect(readdirSync(cacheDir())).toEqual(files);
  });

  it('replaces a damaged cache and still runs the command', async () => {
    await version();
    const [file] = readdirSync(cacheDir());
    writeFileSync(join(cacheDir(), file!), Buffer.alloc(4096, 7));
    const r = await version();
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^hutch version /);
    expect(readdirSync(cacheDir())).toEqual([file]); // rewritten in place (V8 rejected the garbage)
    expect(readFileSync(join(cacheDir(), file!)).equals(Buffer.alloc(4096, 7))).toBe(false);
  });

  it('ignores a folder that others may write to', async () => {
    mkdirSync(cacheDir(), { recursive: true });
    chmodSync(cacheDir(), 0o777);
    const r = await version();
    expect(r.exitCode).toBe(0);
    expect(readdirSync(cacheDir())).toEqual([]);
    expect(existsSync(join(runtime, 'hutch'))).toBe(true);
  });
});

describe('the bundles', () => {
  // One character outside ASCII (in a comment) makes V8 hold a whole bundle as a two-byte string:
  // read through the slow UTF-8 path, twice its size in every process (scripts/bundle.mjs).
  it('are ASCII, so that V8 keeps their source one byte a character', () => {
    const dir = join(REPO, 'dist', 'bundle');
    const names = readdirSync(dir).filter((name) => name.endsWith('.cjs'));
    expect(names).toContain('cli.cjs');
    // eslint-disable-next-line no-control-regex -- the range is the point: everything outside ASCII
    const outside = names.filter((name) => /[^\x00-\x7f]/.test(readFileSync(join(dir, name), 'latin1')));
    expect(outside).toEqual([]);
  });
});
