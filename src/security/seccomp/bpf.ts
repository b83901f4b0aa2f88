import { BugError } from '../../errors.js';

/** Classic BPF as seccomp runs it (linux/filter.h, linux/bpf_common.h): the opcodes hutch emits. */
export const OP = {
  LD_W_ABS: 0x20, // A = u32 at offset k of struct seccomp_data
  AND_K: 0x54, // A &= k
  JA: 0x05, // pc += k
  JEQ_K: 0x15, // pc += A == k ? jt : jf
  JGT_K: 0x25,
  JGE_K: 0x35,
  RET_K: 0x06, // return k
} as const;

/** struct seccomp_data: nr, arch, instruction_pointer, args[6] (u64, little-endian here). */
export const DATA = {
  nr: 0,
  arch: 4,
  argLow: (i: number): number => 16 + 8 * i,
  argHigh: (i: number): number => 20 + 8 * i,
} as const;

/** The kernel's limit on one filter (BPF_MAXINSNS). */
export const MAX_INSNS = 4096;

export interface Insn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

/** A jump target: a label (resolved forward) or a relative skip count. */
export type Target = string | number;

interface Pending {
  code: number;
  jt: Target;
  jf: Target;
  k: number;
}

/** A tiny assembler: forward labels only (BPF jumps only forward), 8-bit conditional offsets checked. */
export class Assembler {
  private readonly insns: Pending[] = [];
  private readonly labels = new Map<string, number>();
  private fresh = 0;

  /** A label name not used before. */
  newLabel(hint: string): string {
    return `${hint}#${this.fresh++}`;
  }

  label(name: string): void {
    this.labels.set(name, this.insns.length);
  }

  load(offset: number): void {
    this.insns.push({ code: OP.LD_W_ABS, jt: 0, jf: 0, k: offset });
  }

  and(mask: number): void {
    this.insns.push({ code: OP.AND_K, jt: 0, jf: 0, k: mask >>> 0 });
  }

  jump(code: number, k: number, jt: Target, jf: Target): void {
    this.insns.push({ code, jt, jf, k: k >>> 0 });
  }

  /** An unconditional jump: any distance. */
  goto(target: string): void {
    this.insns.push({ code: OP.JA, jt: target, jf: 0, k: 0 });
  }

  ret(k: number): void {
    this.insns.push({ code: OP.RET_K, jt: 0, jf: 0, k: k >>> 0 });
  }

  get length(): number {
    return this.insns.length;
  }

  /** Resolves the labels; a conditional jump farther than 255 is a bug in the emitter. */
  assemble(): Insn[] {
    return this.insns.map((insn, i) => {
      if (insn.code === OP.JA) return { code: OP.JA, jt: 0, jf: 0, k: this.offset(insn.jt, i, Infinity) };
      return { code: insn.code, jt: this.offset(insn.jt, i, 255), jf: this.offset(insn.jf, i, 255), k: insn.k };
    });
  }

  private offset(target: Target, at: number, max: number): number {
    if (typeof target === 'number') return target;
    const to = this.labels.get(target);
    if (to === undefined || to <= at || to - at - 1 > max)
      throw new BugError(`seccomp assembler: jump from ${at} to ${target} (${to}) is not a forward jump within ${max}`);
    return to - at - 1;
  }
}

/** struct sock_filter[] as the helper passes it to seccomp(2). */
export function encode(insns: Insn[]): Uint8Array {
  const out = Buffer.alloc(8 * insns.length);
  insns.forEach((insn, i) => {
    out.writeUInt16LE(insn.code, 8 * i);
    out.writeUInt8(insn.jt, 8 * i + 2);
    out.writeUInt8(insn.jf, 8 * i + 3);
    out.writeUInt32LE(insn.k >>> 0, 8 * i + 4);
  });
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

/** The inverse of encode (the tests' interpreter and `hutch` debugging read programs back). */
export function decode(program: Uint8Array): Insn[] {
  const b = Buffer.from(program.buffer, program.byteOffset, program.byteLength);
  return Array.from({ length: b.length / 8 }, (_, i) => ({
    code: b.readUInt16LE(8 * i),
    jt: b.readUInt8(8 * i + 2),
    jf: b.readUInt8(8 * i + 3),
    k: b.readUInt32LE(8 * i + 4),
  }));
}
