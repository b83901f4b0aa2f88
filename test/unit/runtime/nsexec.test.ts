// The helper's wire has one table (src/runtime/wire-table.ts): native/wire.h, the encoder and
// docs/wire.md must agree with it, record by record.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { encodePlan, STEPS, SYNC, TAG, WIRE } from '../../../src/runtime/nsexec.js';
import type { HelperPlan } from '../../../src/runtime/plan.js';
import { WIRE_RECORDS, type PayloadRule } from '../../../src/runtime/wire-table.js';

const header = readFileSync(join(import.meta.dirname, '../../../native/wire.h'), 'utf8');
const page = readFileSync(join(import.meta.dirname, '../../../docs/wire.md'), 'utf8');
const enumOf = (prefix: string): Record<string, number> =>
  Object.fromEntries(
    [...header.matchAll(new RegExp(`^\\s*${prefix}_([A-Z_]+) = (\\d+),`, 'gm'))].map((m) => [m[1]!, Number(m[2])]),
  );

/** wire.h's wire_rules rows, as the table writes them. */
const cRules = Object.fromEntries(
  [...header.matchAll(/^\s*\[TAG_([A-Z_]+)\] = \{LEN_([A-Z]+), (\d+), (\d+)\},/gm)].map((m) => {
    const [, name, kind, bytes, strings] = m;
    const rule: PayloadRule =
      kind === 'STRINGS'
        ? { kind: 'strings', bytes: Number(bytes), strings: Number(strings) }
        : { kind: kind!.toLowerCase() as 'exact' | 'multiple' | 'counted', bytes: Number(bytes) };
    return [name!, rule];
  }),
);

it('native/wire.h has every record of the table, with its number and its length rule', () => {
  const { MAX, ...tags } = enumOf('TAG');
  expect(tags).toEqual(TAG);
  expect(MAX).toBe(Math.max(...Object.values(TAG)));
  expect(cRules).toEqual(Object.fromEntries(Object.entries(WIRE_RECORDS).map(([name, r]) => [name, r.rule])));
});

it('docs/wire.md describes every record of the table under its number', () => {
  const rows = Object.fromEntries([...page.matchAll(/^\| (\d+) \| ([A-Z_]+) \|/gm)].map((m) => [m[2]!, Number(m[1])]));
  expect(rows).toEqual(TAG);
});

it('agrees with native/wire.h on sync messages, steps and constants', () => {
  expect(enumOf('SYNC')).toEqual(SYNC);
  const steps = enumOf('STEP');
  for (const [name, n] of Object.entries(steps))
    expect(STEPS[n]!.replace(/[ _]/g, '')).toBe(name.toLowerCase().replace(/_/g, ''));
  expect(Object.keys(steps).length).toBe(STEPS.length - 1);
  expect(header).toContain(`#define WIRE_MAGIC 0x${WIRE.magic.toString(16)}u`);
  expect(header).toContain(`#define PTY_MASTER_FD ${WIRE.ptyMasterFd}`);
});

/** A plan that makes the encoder write every record of the table. */
const everything: HelperPlan = {
  cloneFlags: 0x20000,
  joins: [{ type: 0x10000000, path: '/proc/1/ns/user' }],
  propagation: 0x44000,
  rootfs: '/r',
  fs: [
    {
      kind: 'mount',
      source: 'proc',
      target: '/r/proc',
      fstype: 'proc',
      flags: 0,
      data: '',
      mkdir: true,
      noSymlinks: true,
      what: 'proc',
    },
    { kind: 'symlink', target: '/proc/self/fd', linkpath: '/r/dev/fd' },
    { kind: 'dir', path: '/r/run/user/1', mode: 0o700, what: '/run/user/1' },
    { kind: 'file', path: '/r/etc/x', mode: 0o640, data: Buffer.from('a\0b'), bind: 'ro', what: '/etc/x' },
    { kind: 'symlink-in-root', target: 'usr/lib', linkpath: '/r/lib64', what: '/lib64 -> usr/lib' },
    { kind: 'chmod', path: '/r/run/user/1', mode: 0o750, what: '/run/user/1' },
    { kind: 'mask', path: '/r/proc/kcore' },
    { kind: 'readonly', path: '/r/proc/sys' },
    { kind: 'remount-ro', path: '/r/data', what: '/data' },
    { kind: 'sysctl', key: 'net.ipv4.ip_forward', path: 'proc/sys/net/ipv4/ip_forward', value: '1' },
  ],
  rootPropagation: 0x100000,
  defaultHome: true,
  readonlyRoot: true,
  hostname: 'h',
  loopback: true,
  rlimits: [{ resource: 7, soft: 1n, hard: 2n }],
  umask: 0o22,
  terminal: true,
  cwd: '/',
  user: { uid: 1, gid: 2 },
  groups: [3, 4],
  caps: { bounding: 1n, effective: 1n, permitted: 1n, inheritable: 0n, ambient: 0n },
  noNewPrivileges: true,
  seccomp: new Uint8Array(16),
  seccompFlags: 1,
  chownNotify: true,
  args: ['sh'],
  argv0: '-sh',
  env: ['A=1'],
  init: true,
  parentDeathSignal: 9,
  detach: true,
  startFifo: '/f',
  consoleSocket: '/s',
  tap: 'tap0',
  preserveFds: 1,
  idMaps: [{ kind: 'gid', tool: '/usr/bin/newgidmap', args: ['0', '1000', '1', '1', '100000', '65536'] }],
  onItsOwn: true,
};

function fits(rule: PayloadRule, payload: Buffer): boolean {
  if (rule.kind === 'exact') return payload.length === rule.bytes;
  if (rule.kind === 'multiple') return payload.length % rule.bytes === 0;
  if (rule.kind === 'counted') return payload.length === 4 + rule.bytes * payload.readUInt32LE(0);
  let offset = rule.bytes;
  for (let i = 0; i < rule.strings; i++) {
    const n = payload.readUInt32LE(offset);
    if (payload[offset + 4 + n - 1] !== 0) return false;
    offset += 4 + n;
  }
  return offset === payload.length;
}

it('encodes every record of the table, each payload within its length rule', () => {
  const { bytes } = encodePlan(everything);
  const seen = new Map<number, Buffer[]>();
  for (let offset = 8; offset < bytes.length;) {
    const tag = bytes.readUInt16LE(offset);
    const len = bytes.readUInt32LE(offset + 2);
    seen.set(tag, [...(seen.get(tag) ?? []), bytes.subarray(offset + 6, offset + 6 + len)]);
    offset += 6 + len;
  }
  expect([...seen.keys()].sort((a, b) => a - b)).toEqual(Object.values(TAG).sort((a, b) => a - b));
  for (const [name, record] of Object.entries(WIRE_RECORDS)) {
    for (const payload of seen.get(record.tag)!) expect(fits(record.rule, payload), name).toBe(true);
  }
});

it('encodes records as u16 tag, u32 length, payload; strings with their NUL', () => {
  const { bytes, what } = encodePlan({
    cloneFlags: 0x20000,
    fs: [],
    readonlyRoot: false,
    loopback: false,
    rlimits: [],
    terminal: false,
    noNewPrivileges: false,
    args: ['ls'],
    env: [],
    init: false,
  });
  expect(bytes.readUInt32LE(0)).toBe(WIRE.magic);
  expect(bytes.readUInt32LE(4)).toBe(WIRE.version);
  expect(bytes.subarray(8).toString('hex')).toBe(
    '0100' + '04000000' + '00000200' + '1100' + '07000000' + '03000000' + Buffer.from('ls\0').toString('hex'),
  );
  expect(what).toEqual(['create the namespaces', 'run ls']);
});
