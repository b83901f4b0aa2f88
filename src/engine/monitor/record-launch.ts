import { join } from 'node:path';
import { Cleanup } from '../../sys/cleanup.js';
import type { Spec } from '../../runtime/spec.js';
import { recordCgroup, containerFiles, type ContainerConfig, type ContainerStore } from '../store/index.js';
import { dropPreheld, prepareLaunch, readSetup } from '../setup/index.js';
import type { LaunchOptions } from '../launch/index.js';
import { blueprintSecurity, specFromBlueprint } from '../spec/index.js';

/** One launch of a recorded container, as the monitor makes it. */
export interface RecordLaunch {
  spec: Spec;
  options: Pick<LaunchOptions, 'hooks' | 'joins' | 'tap' | 'starting' | 'started' | 'rootfsMounted'>;
  /** Why the container ended other than by its own exit (its union filesystem daemon died). */
  failure?: () => Error | undefined;
}

/**
 * What the monitor of `run -d`/`create` adds to a launch of a container made by the user face:
 * the same image storage, network and cgroup setup as a foreground `hutch run` (setup/setup.ts),
 * from the setup saved at creation. Containers without one (the OCI face) launch unchanged.
 */
export async function launchFromRecord(
  store: ContainerStore,
  config: ContainerConfig,
  cleanup: Cleanup,
  warn: (line: string) => void,
): Promise<RecordLaunch> {
  try {
    return await recordLaunch(store, config, cleanup, warn);
  } finally {
    await dropPreheld(); // the holder started before go, unless this launch took it (setup/preheld-holder.ts)
  }
}

async function recordLaunch(
  store: ContainerStore,
  config: ContainerConfig,
  cleanup: Cleanup,
  warn: (line: string) => void,
): Promise<RecordLaunch> {
  const files = containerFiles(store, config.id);
  const setup = readSetup(files.dir);
  const recorded = config.blueprint;
  if (setup === undefined) return { spec: config.spec, options: {} };
  if (recorded === undefined) return { spec: withDefaultSeccomp(config.spec), options: {} };
  const blueprint =
    recorded.security === undefined
      ? { ...recorded, security: blueprintSecurity({}, recorded.capabilities) }
      : recorded;
  const launch = await prepareLaunch(setup, {
    id: config.id,
    blueprint,
    dirs: { data: files.dir, run: files.runDir },
    maps: { uidMappings: blueprint.uidMappings, gidMappings: blueprint.gidMappings },
    etcFiles: { hosts: join(files.runDir, 'hosts'), resolvConf: join(files.runDir, 'resolv.conf') },
    hostname: blueprint.hostname,
    monitorPid: process.pid,
    onCgroup: recordCgroup(store, config.id),
    cleanup,
    warn,
  });
  return { spec: specFromBlueprint(blueprint, launch.placement), options: launch.options, failure: launch.failure };
}

/**
 * A user-face container recorded before hutch had seccomp (no blueprint, or one without its
 * security part) restarts with the default filter, as a container made now does: never unconfined
 * by the accident of its age.
 */
function withDefaultSeccomp(spec: Spec): Spec {
  if (spec.linux?.seccomp !== undefined) return spec;
  const seccomp = blueprintSecurity({}, spec.process?.capabilities?.bounding ?? []).seccomp;
  return { ...spec, linux: { ...spec.linux, seccomp } };
}

/** Runs `fn` with a Cleanup released when it settles: what one run of the container made. */
export async function withCleanup<T>(fn: (cleanup: Cleanup) => Promise<T>): Promise<T> {
  const cleanup = new Cleanup();
  try {
    return await fn(cleanup);
  } finally {
    await cleanup.release();
  }
}
