import { existsSync, lstatSync, mkdirSync, readlinkSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { runContainer } from '../engine/launch/launch.js'; // the file alone: the area's index loads koffi
import { hutchPaths } from '../paths.js';
import { encodePlan } from '../runtime/nsexec.js';
import { planFromSpec, type PlanOptions } from '../runtime/plan.js';
import type { Seccomp, Spec } from '../runtime/spec.js';
import { readCallerFd } from './data.js';
import type { SandboxOptions } from './options.js';
import { compiledSandboxSeccomp, sandboxSeccomp } from './seccomp.js';
import { sandboxSpec, type SandboxHost } from './spec.js';
import { statusFds } from './status-fd.js';

/**
 * Runs a command in a sandbox and returns its exit status (128+N when killed by signal N). A tiny
 * init is PID 1 (it reaps orphans and passes signals on, as bubblewrap's own PID 1 does); the
 * sandbox dies with hutch (the helper's parent-death signal), and with --die-with-parent hutch
 * dies with its own parent.
 */
export async function runSandbox(options: SandboxOptions): Promise<number> {
  if (options.dieWithParent) await dieWithParent();
  const run = hutchPaths().run;
  const root = join(run, 'sandbox-root'); // only a mount point: a tmpfs covers it
  mkdirSync(root, { recursive: true, mode: 0o700 });
  const profile = sandboxSeccomp();
  const { spec, rootLinks, rootPaths } = sandboxSpec(options, root, nodeHost(profile));
  const filter = compiledSandboxSeccomp(profile, run);
  const plan = {
    rootLinks,
    rootPaths,
    init: true,
    seccomp: filter.program,
    seccompFlags: filter.flags,
    argv0: options.argv0,
  };
  if (process.env.HUTCH_SANDBOX_PRINT_PLAN === '1') return printPlan(spec, plan);
  const status = statusFds(options);
  const { exitCode } = await runContainer(spec, {
    ...plan,
    forwardSignals: true,
    started: async (pid) => status.started(pid),
  });
  status.ended(exitCode);
  return exitCode;
}

/**
 * HUTCH_SANDBOX_PRINT_PLAN=1: the helper's plan on stdout instead of a run, as launch.ts would
 * make it from this spec (a user namespace of its own: no gid map read); native/hutch-sandbox
 * prints its own, and test/integration/sandbox-front.test.ts compares the two byte for byte.
 */
function printPlan(spec: Spec, options: PlanOptions): number {
  const isDirectory = (path: string): boolean => {
    try {
      return statSync(path).isDirectory();
    } catch {
      return false;
    }
  };
  writeSync(1, encodePlan(planFromSpec(spec, { isDirectory }, options)).bytes);
  return 0;
}

function nodeHost(seccomp: Seccomp): SandboxHost {
  return {
    uid: process.getuid!(),
    gid: process.getgid!(),
    env: process.env,
    cwd: process.cwd(),
    kind: (path) => {
      try {
        const st = lstatSync(path);
        return st.isSymbolicLink() ? 'link' : st.isDirectory() ? 'dir' : 'other';
      } catch {
        return undefined;
      }
    },
    readlink: (path) => readlinkSync(path),
    exists: existsSync,
    readFd: readCallerFd,
    seccomp,
  };
}

const PR_SET_PDEATHSIG = 1;
const SIGKILL = 9;

/** --die-with-parent: hutch gets SIGKILL when its parent dies, and the sandbox with it. */
async function dieWithParent(): Promise<void> {
  const parent = process.ppid;
  const { libcFunction } = await import('../sys/libc.js'); // koffi: only when asked
  const prctl = libcFunction(
    'int prctl(int option, unsigned long arg2, unsigned long arg3, unsigned long arg4, unsigned long arg5)',
  );
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  // The parent may have died before the call: then we were re-parented already.
  if (process.ppid !== parent) process.kill(process.pid, 'SIGKILL');
}
