// The seccomp compiler, checked by running its BPF output in a small interpreter of the opcodes
// seccomp allows, on every rule shape the default profile uses (and docker's clone-flags mask).
import { describe, expect, it } from 'vitest';
import { decode } from '../../../src/security/seccomp/bpf.js';
import {
  archNamed,
  CHOWN_FAMILY,
  compileSeccomp,
  defaultProfile,
  parseProfile,
  resolveProfile,
  RET,
} from '../../../src/security/seccomp/index.js';
import type { Seccomp } from '../../../src/runtime/spec.js';

const X86_64 = archNamed('SCMP_ARCH_X86_64')!;
const X86 = archNamed('SCMP_ARCH_X86')!;
const X32 = archNamed('SCMP_ARCH_X32')!;

interface Call {
  nr: number;
  arch?: number;
  args?: bigint[];
}

/** Classic BPF as the kernel runs a seccomp filter: A, absolute word loads, AND, jumps, return. */
function run(program: Uint8Array, call: Call): number {
  const data = Buffer.alloc(64);
  data.writeUInt32LE(call.nr >>> 0, 0);
  data.writeUInt32LE(call.arch ?? X86_64.audit, 4);
  (call.args ?? []).forEach((a, i) => data.writeBigUInt64LE(BigInt.asUintN(64, a), 16 + 8 * i));
  const insns = decode(program);
  let a = 0;
  for (let pc = 0; pc < insns.length; pc++) {
    const { code, jt, jf, k } = insns[pc]!;
    if (code === 0x20) a = data.readUInt32LE(k);
    else if (code === 0x54) a = (a & k) >>> 0;
    else if (code === 0x05) pc += k;
    else if (code === 0x15) pc += a === k ? jt : jf;
    else if (code === 0x25) pc += a > k ? jt : jf;
    else if (code === 0x35) pc += a >= k ? jt : jf;
    else if (code === 0x06) return k;
    else throw new Error(`opcode ${code} at ${pc}`);
  }
  throw new Error('fell off the end of the program');
}

const errno = (n: number) => (RET.ERRNO | n) >>> 0;
const nr = (name: string, arch = X86_64) => arch.syscalls.get(name)! + arch.nrBase;
const defaults = (caps: string[] = []) =>
  compileSeccomp(resolveProfile(defaultProfile(), { caps, arch: X86_64 }), X86_64).program;

describe('the default profile', () => {
  const p = defaults(['CAP_CHOWN', 'CAP_SETUID']);
  it('allows what normal programs call and refuses the calls podman refuses, EPERM when named, ENOSYS when not', () => {
    for (const name of [
      'read',
      'openat',
      'clone',
      'execve',
      'mount',
      'unshare',
      'exit_group',
      'arch_prctl',
      'modify_ldt',
    ])
      expect(run(p, { nr: nr(name) }), name).toBe(RET.ALLOW);
    expect(run(p, { nr: nr('io_uring_setup') })).toBe(errno(38));
    expect(run(p, { nr: nr('add_key') })).toBe(errno(38));
    expect(run(p, { nr: nr('userfaultfd') })).toBe(errno(1));
    expect(run(p, { nr: nr('perf_event_open') })).toBe(errno(1));
    expect(run(p, { nr: nr('kexec_load') })).toBe(errno(1));
    expect(run(p, { nr: 1000 })).toBe(errno(38)); // above every known number: ENOSYS
  });
  it('decides by capability: perf_event_open and ptrace with the capability, not without', () => {
    const admin = defaults(['CAP_SYS_ADMIN', 'CAP_SYS_PTRACE']);
    expect(run(admin, { nr: nr('perf_event_open') })).toBe(RET.ALLOW);
    expect(run(admin, { nr: nr('ptrace') })).toBe(RET.ALLOW);
    expect(run(p, { nr: nr('ptrace') })).toBe(errno(1));
  });
  it('allows personality only for the listed values (argument EQ on a 64-bit arg)', () => {
    for (const v of [0n, 8n, 0x20000n, 0x20008n, 0xffffffffn])
      expect(run(p, { nr: nr('personality'), args: [v] })).toBe(RET.ALLOW);
    for (const v of [0x40000n, 0x1_00000000n, 0x1_00000008n])
      expect(run(p, { nr: nr('personality'), args: [v] })).toBe(errno(38));
  });
  it('refuses audit netlink sockets with EINVAL unless CAP_AUDIT_WRITE (rules in order, first match wins)', () => {
    expect(run(p, { nr: nr('socket'), args: [16n, 3n, 9n] })).toBe(errno(22));
    expect(run(p, { nr: nr('socket'), args: [16n, 3n, 0n] })).toBe(RET.ALLOW);
    expect(run(p, { nr: nr('socket'), args: [2n, 1n, 9n] })).toBe(RET.ALLOW);
    expect(run(defaults(['CAP_AUDIT_WRITE']), { nr: nr('socket'), args: [16n, 3n, 9n] })).toBe(RET.ALLOW);
  });
  it('has sections for i386 and x32 and kills the process on any other arch', () => {
    expect(run(p, { arch: X86.audit, nr: nr('read', X86) })).toBe(RET.ALLOW);
    expect(run(p, { arch: X86.audit, nr: nr('io_uring_setup', X86) })).toBe(errno(38));
    expect(run(p, { arch: X86.audit, nr: nr('personality', X86), args: [0x1_00000000n] })).toBe(RET.ALLOW); // 32-bit: low word only
    expect(run(p, { nr: nr('read', X32) })).toBe(RET.ALLOW);
    expect(run(p, { nr: nr('kexec_load', X32) })).toBe(errno(1));
    expect(run(p, { arch: 0xc00000b7, nr: 63 })).toBe(RET.KILL_PROCESS);
  });
  it('fits the kernel comfortably', () => {
    expect(p.length / 8).toBeLessThan(1000);
  });
});

describe('rule shapes', () => {
  const one = (rules: Seccomp['syscalls'], extra: Partial<Seccomp> = {}) =>
    compileSeccomp({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: rules, ...extra }, X86_64).program;
  const arg = (op: string, value: number, valueTwo = 0) => ({ index: 1, value, valueTwo, op });
  it('masks clone flags as docker does (MASKED_EQ): threads and forks pass, new namespaces do not', () => {
    const p = one([
      {
        names: ['clone'],
        action: 'SCMP_ACT_ALLOW',
        args: [{ index: 0, value: 0x7e020000, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
      },
    ]);
    expect(run(p, { nr: nr('clone'), args: [0x11n /* SIGCHLD */] })).toBe(RET.ALLOW);
    expect(run(p, { nr: nr('clone'), args: [0x3d0f00n /* pthread_create */] })).toBe(RET.ALLOW);
    expect(run(p, { nr: nr('clone'), args: [0x10000000n /* CLONE_NEWUSER */] })).toBe(errno(1));
  });
  it.each([
    [
      'SCMP_CMP_GT',
      [
        [5n, false],
        [6n, true],
        [0x1_00000000n, true],
      ],
    ],
    [
      'SCMP_CMP_GE',
      [
        [4n, false],
        [5n, true],
        [0x1_00000000n, true],
      ],
    ],
    [
      'SCMP_CMP_LT',
      [
        [4n, true],
        [5n, false],
        [0x1_00000004n, false],
      ],
    ],
    [
      'SCMP_CMP_LE',
      [
        [5n, true],
        [6n, false],
        [0x1_00000000n, false],
      ],
    ],
    [
      'SCMP_CMP_NE',
      [
        [5n, false],
        [6n, true],
        [0x1_00000005n, true],
      ],
    ],
    [
      'SCMP_CMP_EQ',
      [
        [5n, true],
        [6n, false],
        [0x1_00000005n, false],
      ],
    ],
  ] as [string, [bigint, boolean][]][])('%s against 5 compares all 64 bits', (op, cases) => {
    const p = one([{ names: ['read'], action: 'SCMP_ACT_ALLOW', args: [arg(op, 5)] }]);
    for (const [value, allowed] of cases)
      expect(run(p, { nr: 0, args: [0n, value] }), `${op} ${value}`).toBe(allowed ? RET.ALLOW : errno(1));
  });
  it('compares values above 2^32 by their high word', () => {
    const p = one([{ names: ['read'], action: 'SCMP_ACT_ALLOW', args: [arg('SCMP_CMP_GE', 0x2_00000000)] }]);
    expect(run(p, { nr: 0, args: [0n, 0x1_ffffffffn] })).toBe(errno(1));
    expect(run(p, { nr: 0, args: [0n, 0x2_00000000n] })).toBe(RET.ALLOW);
  });
  it('maps every action, errnoRet defaulting to EPERM; an earlier unconditional rule wins', () => {
    const p = one(
      [
        { names: ['read'], action: 'SCMP_ACT_KILL_PROCESS' },
        { names: ['write'], action: 'SCMP_ACT_TRAP' },
        { names: ['open'], action: 'SCMP_ACT_LOG' },
        { names: ['close'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 },
        { names: ['stat'], action: 'SCMP_ACT_KILL' },
        { names: ['fstat'], action: 'SCMP_ACT_ERRNO' },
        { names: ['read'], action: 'SCMP_ACT_ALLOW' },
        { names: ['no_such_call'], action: 'SCMP_ACT_ALLOW' },
      ],
      { defaultAction: 'SCMP_ACT_ALLOW' },
    );
    expect([0, 1, 2, 3, 4, 5, 6].map((n) => run(p, { nr: n }))).toEqual([
      RET.KILL_PROCESS,
      RET.TRAP,
      RET.LOG,
      errno(13),
      RET.KILL_THREAD,
      errno(1),
      RET.ALLOW,
    ]);
    expect(run(p, { nr: 1000 })).toBe(RET.ALLOW); // no ENOSYS rule under an allowing default
  });
  it('merges runs of numbers into ranges without changing verdicts', () => {
    const p = one([{ names: ['read', 'write', 'open', 'close', 'poll'], action: 'SCMP_ACT_ALLOW' }]);
    expect([0, 1, 2, 3, 4, 5, 7, 8].map((n) => run(p, { nr: n }))).toEqual([
      RET.ALLOW,
      RET.ALLOW,
      RET.ALLOW,
      RET.ALLOW,
      errno(1),
      errno(1),
      RET.ALLOW,
      errno(38),
    ]);
  });
  it('carries the filter flags', () => {
    expect(
      compileSeccomp(
        { defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW'] },
        X86_64,
      ).flags,
    ).toBe(6);
  });
  it('sends the chown family to a listener where the profile allows it, on the native arch only', () => {
    const notif = 0x7fc00000;
    const filter = compileSeccomp(resolveProfile(defaultProfile(), { caps: [], arch: X86_64 }), X86_64, CHOWN_FAMILY);
    expect(filter.flags & 8).toBe(8); // SECCOMP_FILTER_FLAG_NEW_LISTENER
    for (const name of CHOWN_FAMILY) expect(run(filter.program, { nr: nr(name) })).toBe(notif);
    expect(run(filter.program, { nr: nr('chown32', X86), arch: X86.audit })).toBe(RET.ALLOW);
    expect(run(filter.program, { nr: nr('read') })).toBe(RET.ALLOW);
    const refusing = compileSeccomp(
      { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['chown'], action: 'SCMP_ACT_ERRNO' }] },
      X86_64,
      CHOWN_FAMILY,
    ).program;
    expect(run(refusing, { nr: nr('chown') })).toBe(errno(1));
    expect(run(refusing, { nr: nr('lchown') })).toBe(notif);
    expect(compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW' }, X86_64).flags).toBe(0);
  });
  it.each([
    ['an unknown action', { defaultAction: 'SCMP_ACT_NOPE' }, 'SECCOMP_ACTION'],
    [
      'a notify action',
      { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['read'], action: 'SCMP_ACT_NOTIFY' }] },
      'SECCOMP_ACTION',
    ],
    [
      'an argument index of 6',
      {
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [{ names: ['read'], action: 'SCMP_ACT_ERRNO', args: [{ index: 6, value: 0, op: 'SCMP_CMP_EQ' }] }],
      },
      'SECCOMP_ARG',
    ],
    [
      'an unknown comparison',
      {
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [{ names: ['read'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 0, op: 'SCMP_CMP_ABOUT' }] }],
      },
      'SECCOMP_ARG',
    ],
    ['an unknown flag', { defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_BOGUS'] }, 'SECCOMP_FLAG'],
  ] as [string, Seccomp, string][])('refuses %s', (_, profile, code) => {
    expect(() => compileSeccomp(profile, X86_64)).toThrow(expect.objectContaining({ code }));
  });
});

describe('profiles', () => {
  it("reads docker's format, old single names included; refuses what is not a profile", () => {
    const p = parseProfile(
      '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"name":"read","action":"SCMP_ACT_ERRNO"}]}',
      'x.json',
    );
    expect(p.syscalls![0]!.names).toEqual(['read']);
    expect(() => parseProfile('{', 'x.json')).toThrow(/cannot read the seccomp profile x.json: not JSON/);
    expect(() => parseProfile('{"syscalls":[]}', 'x.json')).toThrow(/defaultAction: missing/);
  });
  it('resolves archMap and includes/excludes for the container', () => {
    const r = resolveProfile(defaultProfile(), { caps: [], arch: X86_64 });
    expect(r.architectures).toEqual(['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
    expect(r.syscalls!.some((s) => s.names.includes('cacheflush'))).toBe(false);
    expect(r.syscalls!.find((s) => s.names.includes('chroot'))!.action).toBe('SCMP_ACT_ERRNO');
    const minKernel = resolveProfile(
      {
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [{ names: ['read'], action: 'SCMP_ACT_ERRNO', includes: { minKernel: '99.0' } }],
      },
      { caps: [], arch: X86_64, kernel: '6.1.0' },
    );
    expect(minKernel.syscalls).toEqual([]);
  });
});
