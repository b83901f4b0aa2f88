import { existsSync, lstatSync, mkdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { runContainer } from '../engine/launch/launch.js'; // the file alone: the area's index loads koffi
import { hutchPaths } from '../paths.js';
import type { Seccomp } from '../runtime/spec.js';
import type { SandboxOptions } from './options.js';
import { compiledSandboxSeccomp, sandboxSeccomp } from './seccomp.js';
import { sandboxSpec, type SandboxHost } from './spec.js';

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
  const { spec, rootLinks } = sandboxSpec(options, root, nodeHost(profile));
  const filter = compiledSandboxSeccomp(profile, run);
  const { exitCode } = await runContainer(spec, {
    rootLinks,
    init: true,
    forwardSignals: true,
    seccomp: filter.program,
    seccompFlags: filter.flags,
  });
  return exitCode;
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
