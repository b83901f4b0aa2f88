// bin/hutch runs the bundle through a V8 code cache (src/cli/bundle-loader.cts): a cache appears
// after a verb's first run, a damaged or foreign one costs nothing but its compile time, and a
// folder others may write to is never used (a cache is code).
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hutch, sandbox, type Sandbox } from '../helpers/hutch-cli.js';

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
