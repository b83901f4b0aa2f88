// The wire's numbers live twice (native/wire.h and src/runtime/nsexec.ts): they must agree.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { encodePlan, STEPS, SYNC, TAG, WIRE } from '../../../src/runtime/nsexec.js';

const header = readFileSync(join(import.meta.dirname, '../../../native/wire.h'), 'utf8');
const enumOf = (prefix: string): Record<string, number> =>
  Object.fromEntries([...header.matchAll(new RegExp(`^\\s*${prefix}_([A-Z_]+) = (\\d+),`, 'gm'))].map((m) => [m[1]!, Number(m[2])]));

it('agrees with native/wire.h on tags, sync messages, steps and constants', () => {
  const { MAX, ...tags } = enumOf('TAG');
  expect(tags).toEqual(TAG);
  expect(MAX).toBe(Math.max(...Object.values(TAG)));
  expect(enumOf('SYNC')).toEqual(SYNC);
  const steps = enumOf('STEP');
  for (const [name, n] of Object.entries(steps)) expect(STEPS[n]!.replace(/[ _]/g, '')).toBe(name.toLowerCase().replace(/_/g, ''));
  expect(header).toContain(`#define WIRE_MAGIC 0x${WIRE.magic.toString(16)}u`);
  expect(header).toContain(`#define PTY_MASTER_FD ${WIRE.ptyMasterFd}`);
});

it('encodes records as u16 tag, u32 length, payload; strings with their NUL', () => {
  const { bytes, what } = encodePlan({ cloneFlags: 0x20000, fs: [], readonlyRoot: false, loopback: false, rlimits: [], terminal: false, noNewPrivileges: false, args: ['ls'], env: [], init: false });
  expect(bytes.readUInt32LE(0)).toBe(WIRE.magic);
  expect(bytes.readUInt32LE(4)).toBe(WIRE.version);
  expect(bytes.subarray(8).toString('hex')).toBe('0100' + '04000000' + '00000200' + '1100' + '07000000' + '03000000' + Buffer.from('ls\0').toString('hex'));
  expect(what).toEqual(['create the namespaces', 'run ls']);
});
