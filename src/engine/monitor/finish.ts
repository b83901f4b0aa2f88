import { rmSync } from 'node:fs';
import { describeCause } from '../../errors.js';
import { faultPoint } from '../../sys/fault.js';
import {
  cgroupOf,
  containerFiles,
  oomKilledNow,
  readState,
  updateState,
  type ContainerConfig,
  type ContainerStore,
} from '../store/index.js';
import { networkDir } from '../setup/index.js';

/** How a run the C waiter watched ended (main.ts reads it from the waiter's exec). */
export interface HandedOverEnd {
  /** Which run of the restart policy it was. */
  attempt: number;
  exitCode: number;
  /** Why the container was ended other than by its own exit (its union filesystem daemon died). */
  failure?: string;
}

/**
 * The end of a run after the C waiter (handover.ts): it copied the output, reaped the container
 * and stopped the set-up's processes (the union daemon, slirp4netns, the forwarder); what is left
 * of the launch's cleanup is found from the record: the cgroup (state.json) and the network
 * folder. Records the exit as oneRun does; returns the exit status for the restart policy.
 */
export async function finishHandedOver(
  store: ContainerStore,
  config: ContainerConfig,
  end: HandedOverEnd,
  warn: (line: string) => void,
): Promise<number> {
  const { id } = config;
  faultPoint('exited');
  // Read before the cgroup is removed.
  const oomKilled = oomKilledNow(store, id);
  await cgroupOf(readState(store, id))
    ?.remove()
    .catch((error: unknown) => warn(`hutch: warning: cannot remove the cgroup of ${id}: ${describeCause(error)}`));
  rmSync(networkDir(containerFiles(store, id).runDir, id), { recursive: true, force: true });
  const failure = end.failure === undefined ? undefined : `container ended: ${end.failure}`;
  if (failure !== undefined) warn(`hutch: ${failure}`);
  await updateState(store, id, (s) => ({
    ...s,
    status: 'stopped',
    exitCode: end.exitCode,
    oomKilled,
    finishedAt: new Date().toISOString(),
    ...(failure === undefined ? {} : { error: failure }),
  }));
  return end.exitCode;
}
