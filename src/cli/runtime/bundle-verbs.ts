import { ociExec, ociRunForeground } from '../../engine/oci/exec.js';
import { ociCreate, type OciCreateOptions } from '../../engine/oci/lifecycle.js';
import { ociStart } from '../../engine/oci/state.js';
import { runtimeRoot } from './outcome.js';
import type { BundleArgs, ExecArgs, RunArgs } from './verb-args.js';

/** The verbs that start processes in namespaces (create, run, exec): the launcher's code. */
export async function createVerb(args: BundleArgs): Promise<number> {
  await ociCreate(runtimeRoot(args), args.id, createOptions(args));
  return 0;
}

/** Create and start; without --detach, wait and return the container's status. */
export async function runVerb(args: RunArgs): Promise<number> {
  const root = runtimeRoot(args);
  if (!args.detach)
    return ociRunForeground(root, args.id, args.bundle, {
      pidFile: args.pidFile,
      consoleSocket: args.consoleSocket,
      preserveFds: args.preserveFds,
    });
  await ociCreate(root, args.id, createOptions(args));
  await ociStart(root, args.id);
  return 0;
}

export async function execVerb(args: ExecArgs): Promise<number> {
  return ociExec(runtimeRoot(args), args.id, {
    processFile: args.processFile,
    args: args.args,
    env: args.env,
    cwd: args.cwd,
    user: args.user,
    tty: args.tty,
    caps: args.cap,
    noNewPrivs: args.noNewPrivs,
    detach: args.detach,
    pidFile: args.pidFile,
    consoleSocket: args.consoleSocket,
    preserveFds: args.preserveFds,
  });
}

function createOptions(args: BundleArgs): OciCreateOptions {
  return {
    bundle: args.bundle,
    pidFile: args.pidFile,
    consoleSocket: args.consoleSocket,
    preserveFds: args.preserveFds,
    systemdCgroup: args.systemdCgroup,
  };
}
