import { UsageError } from '../../errors.js';
import type { Seccomp } from '../../runtime/spec.js';
import { archNamed, nativeArch, X32_SYSCALL_BIT, type Arch } from './arch.js';
import { Assembler, DATA, encode, MAX_INSNS, OP } from './bpf.js';
import { FLAG_NEW_LISTENER, withNotify } from './notify.js';

/**
 * The seccomp compiler: an OCI `linux.seccomp` (libseccomp's semantics, as runc and crun apply
 * it) into one classic BPF program. Pure: the same profile gives the same bytes.
 *
 * Shape: check the arch (unknown: kill the process), then per arch section the syscall number
 * above every number the profile names gets ENOSYS (runc's rule, so that a libc falls back from a
 * syscall newer than the profile), then the rules in syscall-number order (runs of numbers with
 * the same unconditional action as one range test), then the default action.
 * Rules for one syscall apply in profile order, the first that matches wins.
 */
export interface SeccompProgram {
  /** struct sock_filter[] for the helper's SECCOMP record. */
  program: Uint8Array;
  /** seccomp(2) SECCOMP_FILTER_FLAG_* bits. */
  flags: number;
}

export const RET = {
  KILL_PROCESS: 0x80000000,
  KILL_THREAD: 0,
  TRAP: 0x00030000,
  ERRNO: 0x00050000,
  TRACE: 0x7ff00000,
  LOG: 0x7ffc0000,
  ALLOW: 0x7fff0000,
} as const;
const ENOSYS = 38;
const EPERM = 1;
const FLAGS: Record<string, number> = {
  SECCOMP_FILTER_FLAG_TSYNC: 1,
  SECCOMP_FILTER_FLAG_LOG: 2,
  SECCOMP_FILTER_FLAG_SPEC_ALLOW: 4,
};

type Arg = NonNullable<NonNullable<Seccomp['syscalls']>[number]['args']>[number];
interface Rule {
  args: Arg[];
  action: number;
}

/** The BPF return value of an OCI action (SCMP_ACT_*); errnoRet defaults to EPERM as in runc. */
export function actionValue(action: string, errnoRet: number | undefined, where: string): number {
  const data = (errnoRet ?? EPERM) & 0xffff;
  switch (action) {
    case 'SCMP_ACT_ALLOW':
      return RET.ALLOW;
    case 'SCMP_ACT_ERRNO':
      return (RET.ERRNO | data) >>> 0;
    case 'SCMP_ACT_KILL':
    case 'SCMP_ACT_KILL_THREAD':
      return RET.KILL_THREAD;
    case 'SCMP_ACT_KILL_PROCESS':
      return RET.KILL_PROCESS;
    case 'SCMP_ACT_TRAP':
      return RET.TRAP;
    case 'SCMP_ACT_TRACE':
      return (RET.TRACE | data) >>> 0;
    case 'SCMP_ACT_LOG':
      return RET.LOG;
  }
  throw new UsageError(
    'SECCOMP_ACTION',
    `cannot compile the seccomp profile: ${where}: action ${action} is not supported`,
    {
      hint: 'use SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, SCMP_ACT_KILL(_PROCESS|_THREAD), SCMP_ACT_TRAP, SCMP_ACT_TRACE or SCMP_ACT_LOG (SCMP_ACT_NOTIFY needs a listener hutch does not have)',
    },
  );
}

/**
 * Compiles `profile` for the native arch and every arch it lists that hutch has a table for.
 * `notify`: native syscalls the profile allows that go to a listener instead (the chown family
 * of a single-uid build step); the filter then asks seccomp(2) for the listener's fd.
 */
export function compileSeccomp(profile: Seccomp, native: Arch = nativeArch(), notify: string[] = []): SeccompProgram {
  const fallback = actionValue(profile.defaultAction, profile.defaultErrnoRet, 'defaultAction');
  const listed = (profile.architectures ?? []).map(archNamed).filter((a): a is Arch => a !== undefined);
  const arches = [
    native,
    ...listed.filter((a) => a.name !== native.name && (a.audit !== native.audit || a.nrBase !== native.nrBase)),
  ];
  const asm = new Assembler();
  asm.load(DATA.arch);
  const audits = [...new Set(arches.map((a) => a.audit))];
  for (const audit of audits) {
    asm.jump(OP.JEQ_K, audit, 0, 1);
    asm.goto(`audit-${audit}`);
  }
  asm.ret(RET.KILL_PROCESS); // a syscall of an arch the filter does not know
  for (const audit of audits) {
    asm.label(`audit-${audit}`);
    asm.load(DATA.nr);
    const [plain, x32] = [
      arches.find((a) => a.audit === audit && a.nrBase === 0),
      arches.find((a) => a.audit === audit && a.nrBase !== 0),
    ];
    if (plain !== undefined && (plain.name === 'SCMP_ARCH_X86_64' || x32 !== undefined)) {
      // x32 shares x86_64's audit arch: its numbers carry __X32_SYSCALL_BIT.
      asm.jump(OP.JGE_K, X32_SYSCALL_BIT, 0, 1);
      if (x32 !== undefined) asm.goto(`x32-${audit}`);
      else asm.ret(RET.KILL_PROCESS);
    }
    const rules = (arch: Arch): Map<number, Rule[]> => {
      const byNr = rulesFor(profile, arch);
      if (arch === native) withNotify(byNr, arch, notify, fallback);
      return byNr;
    };
    if (plain !== undefined) emitSection(asm, plain, rules(plain), fallback);
    if (x32 !== undefined) {
      asm.label(`x32-${audit}`);
      emitSection(asm, x32, rules(x32), fallback);
    }
  }
  if (asm.length > MAX_INSNS)
    throw new UsageError(
      'SECCOMP_TOO_LONG',
      `cannot compile the seccomp profile: the filter has ${asm.length} instructions, more than the kernel's ${MAX_INSNS}`,
      { hint: 'use fewer argument rules or fewer architectures' },
    );
  const listener = notify.length > 0 ? FLAG_NEW_LISTENER : 0;
  return { program: encode(asm.assemble()), flags: seccompFlags(profile.flags ?? []) | listener };
}

/** seccomp(2)'s SECCOMP_FILTER_FLAG_* bits of a profile's `flags`. */
export function seccompFlags(names: string[]): number {
  let flags = 0;
  for (const name of names) {
    const bit = FLAGS[name];
    if (bit === undefined)
      throw new UsageError('SECCOMP_FLAG', `cannot compile the seccomp profile: flag ${name} is not supported`, {
        hint: `use ${Object.keys(FLAGS).join(', ')}`,
      });
    flags |= bit;
  }
  return flags;
}

/** Per syscall number of `arch`: its rules in profile order, up to the first unconditional one. */
export function rulesFor(profile: Seccomp, arch: Arch): Map<number, Rule[]> {
  const byNr = new Map<number, Rule[]>();
  (profile.syscalls ?? []).forEach((rule, i) => {
    const where = `syscalls[${i}]`;
    const action = actionValue(rule.action, rule.errnoRet, where);
    for (const a of rule.args ?? []) checkArg(a, where);
    for (const name of rule.names) {
      const nr = arch.syscalls.get(name);
      if (nr === undefined) continue; // not a syscall of this arch (libseccomp skips it too)
      const list = byNr.get(nr + arch.nrBase) ?? [];
      if (list.some((r) => r.args.length === 0)) continue; // an earlier unconditional rule decides
      list.push({ args: rule.args ?? [], action });
      byNr.set(nr + arch.nrBase, list);
    }
  });
  return byNr;
}

const OPS = new Set([
  'SCMP_CMP_NE',
  'SCMP_CMP_LT',
  'SCMP_CMP_LE',
  'SCMP_CMP_EQ',
  'SCMP_CMP_GE',
  'SCMP_CMP_GT',
  'SCMP_CMP_MASKED_EQ',
]);

function checkArg(a: Arg, where: string): void {
  if (!Number.isInteger(a.index) || a.index < 0 || a.index > 5)
    throw new UsageError(
      'SECCOMP_ARG',
      `cannot compile the seccomp profile: ${where}: argument index ${a.index} is not 0-5`,
      { hint: 'syscalls have at most six arguments' },
    );
  if (!OPS.has(a.op))
    throw new UsageError(
      'SECCOMP_ARG',
      `cannot compile the seccomp profile: ${where}: comparison ${a.op} is not known`,
      { hint: `use one of ${[...OPS].join(', ')}` },
    );
}

/** One arch's rules: ENOSYS above the highest known number, the rules, then the default. */
function emitSection(asm: Assembler, arch: Arch, byNr: Map<number, Rule[]>, fallback: number): void {
  const numbers = [...byNr.keys()].sort((a, b) => a - b);
  if (fallback !== RET.ALLOW && numbers.length > 0) {
    asm.jump(OP.JGT_K, numbers.at(-1)!, 0, 1);
    asm.ret((RET.ERRNO | ENOSYS) >>> 0);
  }
  for (let i = 0; i < numbers.length;) {
    const rules = byNr.get(numbers[i]!)!;
    if (rules.length === 1 && rules[0]!.args.length === 0) {
      let j = i; // extend the run while the next number has the same single unconditional action
      while (
        j + 1 < numbers.length &&
        numbers[j + 1] === numbers[j]! + 1 &&
        sameUnconditional(byNr.get(numbers[j + 1]!)!, rules[0]!.action)
      )
        j++;
      emitRange(asm, numbers[i]!, numbers[j]!, rules[0]!.action);
      i = j + 1;
    } else {
      emitConditional(asm, arch, numbers[i]!, rules, fallback);
      i++;
    }
  }
  asm.ret(fallback);
}

function sameUnconditional(rules: Rule[], action: number): boolean {
  return rules.length === 1 && rules[0]!.args.length === 0 && rules[0]!.action === action;
}

function emitRange(asm: Assembler, low: number, high: number, action: number): void {
  if (low === high) {
    asm.jump(OP.JEQ_K, low, 0, 1);
  } else {
    asm.jump(OP.JGE_K, low, 0, 2);
    asm.jump(OP.JGT_K, high, 1, 0);
  }
  asm.ret(action);
}

/** nr's rules in order: each a chain of argument tests that falls to the next rule on a mismatch. */
function emitConditional(asm: Assembler, arch: Arch, nr: number, rules: Rule[], fallback: number): void {
  const end = asm.newLabel('end');
  asm.jump(OP.JEQ_K, nr, 0, end);
  let decided = false;
  for (const rule of rules) {
    const next = asm.newLabel('next');
    for (const arg of rule.args) emitCompare(asm, arch, arg, next);
    asm.ret(rule.action);
    asm.label(next);
    if (rule.args.length === 0) decided = true;
  }
  if (!decided) asm.ret(fallback);
  asm.label(end); // every path in the block returned: A still holds nr here
}

/** Falls through when `arg` holds for the syscall, jumps to `fail` when not. 64-bit values compare high word first. */
function emitCompare(asm: Assembler, arch: Arch, arg: Arg, fail: string): void {
  const words = (v: number): [number, number] => {
    const b = BigInt.asUintN(64, BigInt(v));
    return [Number(b >> 32n), Number(b & 0xffffffffn)];
  };
  const [vHigh, vLow] = words(arg.value);
  const [tHigh, tLow] = words(arg.valueTwo ?? 0);
  const pass = asm.newLabel('pass');
  const low = (): void => asm.load(DATA.argLow(arg.index));
  const wide = arch.bits === 64;
  if (arg.op === 'SCMP_CMP_MASKED_EQ') {
    if (wide) {
      asm.load(DATA.argHigh(arg.index));
      asm.and(vHigh);
      asm.jump(OP.JEQ_K, tHigh, 0, fail);
    }
    low();
    asm.and(vLow);
    asm.jump(OP.JEQ_K, tLow, 0, fail);
  } else if (arg.op === 'SCMP_CMP_EQ' || arg.op === 'SCMP_CMP_NE') {
    const eq = arg.op === 'SCMP_CMP_EQ';
    if (wide) {
      asm.load(DATA.argHigh(arg.index));
      asm.jump(OP.JEQ_K, vHigh, 0, eq ? fail : pass);
    }
    low();
    asm.jump(OP.JEQ_K, vLow, eq ? 0 : fail, eq ? fail : 0);
  } else {
    // GT, GE, LT, LE: decided by the high word unless equal, then by the low word.
    const greater = arg.op === 'SCMP_CMP_GT' || arg.op === 'SCMP_CMP_GE';
    if (wide) {
      asm.load(DATA.argHigh(arg.index));
      asm.jump(OP.JGT_K, vHigh, greater ? pass : fail, 0);
      asm.jump(OP.JEQ_K, vHigh, 0, greater ? fail : pass);
    }
    low();
    if (arg.op === 'SCMP_CMP_GT') asm.jump(OP.JGT_K, vLow, 0, fail);
    else if (arg.op === 'SCMP_CMP_GE') asm.jump(OP.JGE_K, vLow, 0, fail);
    else if (arg.op === 'SCMP_CMP_LT') asm.jump(OP.JGE_K, vLow, fail, 0);
    else asm.jump(OP.JGT_K, vLow, fail, 0);
  }
  asm.label(pass);
}
