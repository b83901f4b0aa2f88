import { UsageError } from '../../errors.js';
import { AARCH64_SYSCALLS, X32_SYSCALLS, X86_64_SYSCALLS, X86_SYSCALLS } from './syscall-tables.js';

/** An architecture a filter has a section for: how the kernel names it and its syscall numbers. */
export interface Arch {
  /** libseccomp's name, as profiles and OCI specs write it. */
  name: string;
  /** The Go name containers-common's profile uses in includes.arches. */
  goName: string;
  /** seccomp_data.arch (AUDIT_ARCH_*). */
  audit: number;
  /** 32-bit arches pass 32-bit arguments: only the low word is compared. */
  bits: 32 | 64;
  /** Added to every number (x32 shares x86_64's audit arch and sets __X32_SYSCALL_BIT). */
  nrBase: number;
  syscalls: ReadonlyMap<string, number>;
}

export const X32_SYSCALL_BIT = 0x40000000;

/**
 * An arch whose syscall table is read from its text when first used: a run whose filter was
 * compiled at build time (precompiled.ts) needs only the native arch's names, and reading the four
 * tables cost every CLI start ~2-3 ms.
 */
function arch(fields: Omit<Arch, 'syscalls'>, text: string): Arch {
  let syscalls: Map<string, number> | undefined;
  return {
    ...fields,
    get syscalls(): ReadonlyMap<string, number> {
      return (syscalls ??= table(text));
    },
  };
}

function table(text: string): Map<string, number> {
  const words = text.split(' ');
  const out = new Map<string, number>();
  for (let i = 0; i + 1 < words.length; i += 2) out.set(words[i]!, Number(words[i + 1]));
  return out;
}

const ARCHES: Arch[] = [
  arch({ name: 'SCMP_ARCH_X86_64', goName: 'amd64', audit: 0xc000003e, bits: 64, nrBase: 0 }, X86_64_SYSCALLS),
  arch({ name: 'SCMP_ARCH_X86', goName: '386', audit: 0x40000003, bits: 32, nrBase: 0 }, X86_SYSCALLS),
  arch({ name: 'SCMP_ARCH_X32', goName: 'x32', audit: 0xc000003e, bits: 64, nrBase: X32_SYSCALL_BIT }, X32_SYSCALLS),
  arch({ name: 'SCMP_ARCH_AARCH64', goName: 'arm64', audit: 0xc00000b7, bits: 64, nrBase: 0 }, AARCH64_SYSCALLS),
];

/** The arch hutch runs on (its filter's first section). */
export function nativeArch(): Arch {
  const name = process.arch === 'x64' ? 'SCMP_ARCH_X86_64' : process.arch === 'arm64' ? 'SCMP_ARCH_AARCH64' : undefined;
  const arch = ARCHES.find((a) => a.name === name);
  if (arch === undefined)
    throw new UsageError(
      'SECCOMP_ARCH',
      `cannot build a seccomp filter: architecture ${process.arch} has no syscall table in hutch`,
      { hint: 'run with --security-opt seccomp=unconfined' },
    );
  return arch;
}

/** The arch named `name` (SCMP_ARCH_*), or undefined when hutch has no table for it. */
export function archNamed(name: string): Arch | undefined {
  return ARCHES.find((a) => a.name === name);
}
