import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { faultPoint as FaultPoint } from '../../src/sys/fault.js';
import { afterAll, afterEach, expect, it, vi } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'hutch-trace-'));
afterEach(() => {
  vi.unstubAllEnvs();
  vi.resetModules();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** trace.ts and fault.ts as loaded with HUTCH_TRACE set to `file` (both read it once, at load). */
async function load(file: string | undefined): Promise<{ faultPoint: typeof FaultPoint }> {
  vi.stubEnv('HUTCH_TRACE', file);
  vi.resetModules();
  return import('../../src/sys/fault.js');
}

it('HUTCH_TRACE: the process start first, then each step, as "EPOCH_MS PID STEP" lines', async () => {
  const file = join(dir, 'trace');
  const { faultPoint } = await load(file);
  faultPoint('blueprint');
  faultPoint('prepared');
  const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
  expect(lines.map((l) => l.split(' ').slice(1).join(' '))).toEqual([
    `${process.pid} start`,
    `${process.pid} blueprint`,
    `${process.pid} prepared`,
  ]);
  const times = lines.map((l) => Number(l.split(' ')[0]));
  expect(times.every((t) => Number.isFinite(t) && t > 1.7e12)).toBe(true); // epoch milliseconds
  expect([...times].sort((a, b) => a - b)).toEqual(times);
});

it('unset or empty: a step writes nothing (there is no file to write to) and goes on', async () => {
  for (const value of [undefined, '']) {
    const { faultPoint } = await load(value);
    expect(() => faultPoint('blueprint')).not.toThrow();
  }
});
