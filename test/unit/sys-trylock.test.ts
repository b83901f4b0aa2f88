// src/sys/trylock.ts: a sweep over run folders that other runs remove at the same time takes the
// lock of a folder left by a killed run, and skips (never throws on, never creates) one that is
// held or gone (10 concurrent `run --rm` failed with ENOENT when a folder went between readdir and open).
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { tryLock, tryLockExisting } from '../../src/sys/trylock.js';

let dir: string;
beforeEach(() => void (dir = mkdtempSync(join(tmpdir(), 'hutch-trylock-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

it('tryLockExisting: a free lock is taken; a gone folder is skipped and not made', () => {
  mkdirSync(join(dir, 'left'));
  writeFileSync(join(dir, 'left', 'lock'), '');
  const fd = tryLockExisting(join(dir, 'left', 'lock'));
  expect(fd).toBeTypeOf('number');
  closeSync(fd!);
  expect(tryLockExisting(join(dir, 'gone', 'lock'))).toBeUndefined();
  mkdirSync(join(dir, 'empty'));
  expect(tryLockExisting(join(dir, 'empty', 'lock'))).toBeUndefined();
  expect(existsSync(join(dir, 'empty', 'lock'))).toBe(false);
});

it('tryLockExisting: a lock another process holds is skipped', async () => {
  const path = join(dir, 'lock');
  writeFileSync(path, '');
  // One process holds it (sh becomes sleep, fd 9 kept): killing it leaves nothing.
  const holder = spawn('sh', ['-c', 'exec 9<"$0"; flock 9; echo held; exec sleep 30', path], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    await once(holder.stdout!, 'data');
    expect(tryLockExisting(path)).toBeUndefined();
    expect(tryLock(path)).toBeUndefined();
  } finally {
    holder.kill('SIGKILL');
  }
});
