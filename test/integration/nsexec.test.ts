// hutch-nsexec refuses a bad plan before it clones anything, naming the step on fd 5.
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { expect, it } from 'vitest';
import { encodePlan, helperPath, spawnHelper, STEPS, TAG } from '../../src/runtime/nsexec.js';
import type { HelperPlan } from '../../src/runtime/plan.js';

/** Feeds raw bytes to the helper; returns its exit status and the failure record. */
async function feed(bytes: Buffer): Promise<{ status: number | null; step: string; errno: number; record: number }> {
  const child = spawn(helperPath(), [], { stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
  (child.stdio[3] as Writable).on('error', () => undefined).end(bytes);
  const chunks: Buffer[] = [];
  (child.stdio as unknown as Readable[])[5]!.on('data', (c: Buffer) => chunks.push(c));
  const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
  const all = Buffer.concat(chunks);
  return { status, step: STEPS[all.readUInt32LE(0)]!, errno: all.readInt32LE(4), record: all.readUInt32LE(8) };
}

const plan: HelperPlan = {
  cloneFlags: 0,
  fs: [],
  readonlyRoot: false,
  loopback: false,
  rlimits: [],
  terminal: false,
  noNewPrivileges: false,
  args: ['true'],
  env: [],
  init: false,
};

it('exits 125 naming "parse plan" for a truncated plan', async () => {
  const { bytes } = encodePlan(plan);
  for (const cut of [3, 10, bytes.length - 2]) {
    const r = await feed(bytes.subarray(0, cut));
    expect(r.status).toBe(125);
    expect(r.step).toBe('parse plan');
  }
});

it('exits 125 naming "parse plan" and the record for an unknown tag', async () => {
  const { bytes } = encodePlan(plan);
  const unknown = Buffer.from([0xff, 0x7f, 0, 0, 0, 0]); // tag 32767, empty
  const r = await feed(Buffer.concat([bytes, unknown]));
  expect(r).toEqual({ status: 125, step: 'parse plan', errno: 95 /* ENOTSUP */, record: encodePlan(plan).what.length });
});

it('refuses a wrong magic number and a string without its NUL', async () => {
  const { bytes } = encodePlan(plan);
  const wrong = Buffer.from(bytes);
  wrong.writeUInt32LE(0x12345678, 0);
  expect((await feed(wrong)).step).toBe('parse plan');
  const arg = Buffer.alloc(6 + 4 + 3);
  arg.writeUInt16LE(TAG.ARG, 0);
  arg.writeUInt32LE(7, 2);
  arg.writeUInt32LE(3, 6);
  arg.write('abc', 10);
  const r = await feed(Buffer.concat([bytes.subarray(0, 8), arg]));
  expect(r.status).toBe(125);
  expect(r.step).toBe('parse plan');
});

it("runs a well-formed plan without namespaces and exits with the command's status", async () => {
  const helper = await spawnHelper({ ...plan, args: ['/bin/sh', '-c', 'exit 9'] }, ['ignore', 'ignore', 'ignore']);
  expect(await helper.cloned()).toBeGreaterThan(0);
  helper.mapped();
  await helper.ready();
  await helper.go();
  expect(await helper.exited()).toBe(9);
});

it('installs a seccomp filter after no_new_privs (x86_64: mkdir and mkdirat fail with EPERM)', async () => {
  if (process.arch !== 'x64') return;
  const insn = (code: number, k: number, jt = 0, jf = 0): Buffer => {
    const b = Buffer.alloc(8);
    b.writeUInt16LE(code, 0);
    b.writeUInt8(jt, 2);
    b.writeUInt8(jf, 3);
    b.writeUInt32LE(k >>> 0, 4);
    return b;
  };
  const LD_W_ABS = 0x20,
    JEQ_K = 0x15,
    RET_K = 0x06,
    RET_ERRNO_EPERM = 0x00050001,
    RET_ALLOW = 0x7fff0000;
  const filter = Buffer.concat([
    insn(LD_W_ABS, 0),
    insn(JEQ_K, 83, 1, 0),
    insn(JEQ_K, 258, 0, 1),
    insn(RET_K, RET_ERRNO_EPERM),
    insn(RET_K, RET_ALLOW),
  ]);
  const dir = `/tmp/hutch-seccomp-${process.pid}`;
  const helper = await spawnHelper(
    { ...plan, noNewPrivileges: true, seccomp: filter, args: ['/bin/busybox', 'mkdir', dir] },
    ['ignore', 'ignore', 'ignore'],
  );
  await helper.cloned();
  helper.mapped();
  await helper.ready();
  await helper.go();
  expect(await helper.exited()).toBe(1);
  expect(existsSync(dir)).toBe(false);
});

it('checks the strings of every record before it clones (a mount whose fourth string lacks its NUL)', async () => {
  const { bytes } = encodePlan(plan);
  const strings = Buffer.concat(
    ['proc', '/x', 'proc'].map((v) => {
      const b = Buffer.alloc(4 + v.length + 1);
      b.writeUInt32LE(v.length + 1, 0);
      b.write(v, 4);
      return b;
    }),
  );
  const broken = Buffer.from([2, 0, 0, 0, 0x61, 0x62]); // len 2, "ab": no NUL
  const payload = Buffer.concat([Buffer.alloc(8), strings, broken]);
  const head = Buffer.alloc(6);
  head.writeUInt16LE(TAG.MOUNT, 0);
  head.writeUInt32LE(payload.length, 2);
  const r = await feed(Buffer.concat([bytes, head, payload]));
  expect(r).toMatchObject({ status: 125, step: 'parse plan', record: encodePlan(plan).what.length });
});

it('makes no DIR or FILE path outside the root, nor chmods one: a path not under ROOTFS (here none) fails with EXDEV', async () => {
  const path = `/tmp/hutch-exdev-${process.pid}`;
  for (const step of [
    { kind: 'dir', path, mode: 0o755, what: path },
    { kind: 'file', path, mode: 0o644, data: Buffer.from('x'), what: path },
    { kind: 'file', path, mode: 0o644, data: Buffer.from('x'), bind: 'ro', what: path },
  ] as const) {
    const helper = await spawnHelper({ ...plan, fs: [step] }, ['ignore', 'ignore', 'ignore']);
    await helper.cloned();
    helper.mapped();
    await expect(helper.ready()).rejects.toMatchObject({ step: step.kind, errno: 18 /* EXDEV */ });
    await helper.exited();
    expect(existsSync(path)).toBe(false);
  }
  // CHMOD changes nothing outside the root either: here a file that is there.
  writeFileSync(path, '');
  chmodSync(path, 0o600);
  try {
    const helper = await spawnHelper({ ...plan, fs: [{ kind: 'chmod', path, mode: 0o777, what: path }] }, [
      'ignore',
      'ignore',
      'ignore',
    ]);
    await helper.cloned();
    helper.mapped();
    await expect(helper.ready()).rejects.toMatchObject({ step: 'chmod', errno: 18 /* EXDEV */ });
    await helper.exited();
    expect(statSync(path).mode & 0o7777).toBe(0o600);
  } finally {
    rmSync(path);
  }
});
