import { isSameProcess } from '../../sys/proc.js';
import { readConfig, readState, type ContainerConfig, type ContainerState, type ContainerStore } from './records.js';

/**
 * The container state machine, as commands see it: creating -> created -> running -> stopped
 * (and paused). The monitor moves a container along; commands read its state, ask the monitor
 * to start it, signal its process, and remove it. A state that says the container lives while
 * its monitor is dead is reported as stopped, honestly: the exit status is unknown.
 */
export interface ContainerView {
  config: ContainerConfig;
  state: ContainerState;
}

const LIVE = new Set(['creating', 'created', 'running', 'paused']);

/** The record and the state as it really is (a dead monitor means a stopped container). */
export function viewContainer(store: ContainerStore, id: string): ContainerView {
  const config = readConfig(store, id);
  const state = readState(store, id);
  if (
    LIVE.has(state.status) &&
    state.monitorPid !== undefined &&
    !isSameProcess(state.monitorPid, state.monitorStart)
  ) {
    return {
      config,
      state: {
        ...state,
        status: 'stopped',
        exitCode: state.exitCode ?? -1,
        error: state.error ?? `the monitor (pid ${state.monitorPid}) died; the exit status is unknown`,
      },
    };
  }
  return { config, state };
}

export function isLive(view: ContainerView): boolean {
  return LIVE.has(view.state.status);
}

/** Whether the container is live now: false once it is gone (removed, e.g. on exit by --rm). */
export function isLiveNow(store: ContainerStore, id: string): boolean {
  try {
    return isLive(viewContainer(store, id));
  } catch {
    return false;
  }
}
