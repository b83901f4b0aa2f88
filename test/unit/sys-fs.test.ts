import { describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { atomicWriteFile, withLock } from '../../src/sys/fs.js';
import { Cleanup } from '../../src/sys/cleanup.js';

describe('atomicWriteFile', () => {
  it('replaces the content and leaves no temporary file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hutch-fs-'));
    atomicWriteFile(join(dir, 'state.json'), '{"a":1}');
    atomicWriteFile(join(dir, 'state.json'), '{"a":2}');
    expect(readFileSync(join(dir, 'state.json'), 'utf8')).toBe('{"a":2}');
    expect(readdirSync(dir)).toEqual(['state.json']);
  });
});

describe('withLock', () => {
  it('serialises critical sections', async () => {
    const lock = join(mkdtempSync(join(tmpdir(), 'hutch-lock-')), 'lock');
    const order: string[] = [];
    const section = (name: string) =>
      withLock(lock, async () => {
        order.push(`${name}+`);
        await new Promise((r) => setTimeout(r, 20));
        order.push(`${name}-`);
      });
    await Promise.all([section('a'), section('b')]);
    expect(order.join(' ')).toMatch(/^(a\+ a- b\+ b-|b\+ b- a\+ a-)$/);
  });
});

describe('Cleanup', () => {
  it('releases in reverse order and reports failures without stopping', async () => {
    const cleanup = new Cleanup();
    const done: number[] = [];
    cleanup.add('one', () => done.push(1));
    cleanup.add('two', () => {
      throw new Error('boom');
    });
    cleanup.add('three', () => done.push(3));
    const failures = await cleanup.release();
    expect(done).toEqual([3, 1]);
    expect(failures.map((f) => f.what)).toEqual(['two']);
  });
});
