// A static program that reports the kernel's verdict on the syscalls seccomp decides
// (test/fixtures/syscall-probe.c), built once per test run with the C compiler the helper needs.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from './hutch-cli.js';

let built: string | undefined;

/** Copies the probe into `rootfs` as /probe; returns its path inside the container. */
export function installProbe(rootfs: string): string {
  if (built === undefined || !existsSync(built)) {
    built = join(mkdtempSync(join(tmpdir(), 'hutch-probe-')), 'probe');
    execFileSync('cc', ['-static', '-O2', '-o', built, join(REPO, 'test', 'fixtures', 'syscall-probe.c')]);
  }
  copyFileSync(built, join(rootfs, 'probe'));
  return '/probe';
}

/** The probe's output as NAME -> errno (0: the call worked). */
export function verdicts(stdout: string): Record<string, number> {
  return Object.fromEntries(
    String(stdout)
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(' '))
      .map(([n, e]) => [n!, Number(e)]),
  );
}
