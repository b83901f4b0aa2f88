import { setTimeout as sleep } from 'node:timers/promises';
import { CgroupError, describeCause, type HutchError } from '../errors.js';
import { DbusError, SdBus, type BusArg } from '../sys/sdbus.js';
import type { UserManagerSockets } from './detect.js';

/**
 * The user's systemd manager, over D-Bus through libsystemd's sd-bus (src/sys/sdbus.ts): a
 * transient scope per container with Delegate=yes, the way podman and crun ask for one.
 */
const SYSTEMD = 'org.freedesktop.systemd1';
const MANAGER = { destination: SYSTEMD, path: '/org/freedesktop/systemd1', interface: `${SYSTEMD}.Manager` };

export interface ScopeRequest {
  /** Unit name, e.g. hutch-<id>.scope. */
  unit: string;
  pids: number[];
  /** A slice (--cgroup-parent); the manager's default (app.slice) when absent. */
  slice?: string;
  description?: string;
  /** How long to wait for the start job (the VM runs code 2-10x slower). */
  timeoutMs?: number;
}

export interface UserManager {
  bus: SdBus;
  /** The manager's own cgroup (its ControlGroup property), e.g. /user.slice/user-1000.slice/user@1000.service. */
  controlGroup: string;
  version: string;
}

/** Connects to the user's manager: the bus first, then systemd's private socket. Throws CgroupError. */
export function connectUserManager(sockets: UserManagerSockets): UserManager {
  const errors: string[] = [];
  const attempts: [string, () => SdBus][] = [];
  const { bus, privateSocket } = sockets;
  if (bus !== undefined) attempts.push([bus, () => SdBus.openAddress(bus, true)]);
  if (privateSocket !== undefined)
    attempts.push([privateSocket, () => SdBus.openAddress(`unix:path=${privateSocket}`, false)]);
  for (const [where, open] of attempts) {
    let bus: SdBus | undefined;
    try {
      bus = open();
      const controlGroup = bus.getString(MANAGER.destination, MANAGER.path, MANAGER.interface, 'ControlGroup');
      const version = bus.getString(MANAGER.destination, MANAGER.path, MANAGER.interface, 'Version');
      return { bus, controlGroup, version };
    } catch (error) {
      bus?.close();
      errors.push(`${where}: ${describeCause(error)}`);
    }
  }
  const why =
    attempts.length === 0 ? `no bus socket in ${sockets.runtimeDir ?? '$XDG_RUNTIME_DIR (unset)'}` : errors.join('; ');
  throw new CgroupError('CGROUP_NO_USER_MANAGER', `cannot reach the systemd user manager: ${why}`, {
    hint: 'log in through a session that starts `systemd --user` (or run `loginctl enable-linger $USER`), with XDG_RUNTIME_DIR set',
  });
}

/**
 * Starts a transient scope holding `pids` with Delegate=yes and waits for its start job to end.
 * Returns the scope's cgroup path as the manager names it (relative to the cgroup2 mount).
 */
export async function startScope(manager: UserManager, request: ScopeRequest): Promise<string> {
  const props: [string, string, BusArg][] = [
    ['Description', 's', { type: 's', value: request.description ?? request.unit }],
    ['PIDs', 'au', { type: 'a', contents: 'u', items: request.pids.map((pid) => ({ type: 'u', value: pid })) }],
    ['Delegate', 'b', { type: 'b', value: true }],
    // A scope that fails must not linger under its name, or the next start would clash.
    ['CollectMode', 's', { type: 's', value: 'inactive-or-failed' }],
  ];
  if (request.slice !== undefined) props.push(['Slice', 's', { type: 's', value: request.slice }]);
  const properties: BusArg = {
    type: 'a',
    contents: '(sv)',
    items: props.map(([name, sig, value]) => ({
      type: 'r',
      contents: 'sv',
      items: [
        { type: 's', value: name },
        { type: 'v', contents: sig, items: [value] },
      ],
    })),
  };
  let job: string | undefined;
  try {
    job = manager.bus.call({ ...MANAGER, member: 'StartTransientUnit' }, [
      { type: 's', value: request.unit },
      { type: 's', value: 'fail' },
      properties,
      { type: 'a', contents: '(sa(sv))', items: [] },
    ]);
  } catch (error) {
    throw scopeError(request.unit, 'start', error);
  }
  await waitForJob(manager, job ?? '', request);
  return unitProperty(manager, request.unit, 'Scope', 'ControlGroup');
}

/** Stops a scope; a scope already gone is not an error. */
export function stopScope(manager: UserManager, unit: string): void {
  try {
    manager.bus.call({ ...MANAGER, member: 'StopUnit' }, [
      { type: 's', value: unit },
      { type: 's', value: 'fail' },
    ]);
  } catch (error) {
    if (error instanceof DbusError && /NoSuchUnit|UnknownObject/.test(error.errorName)) return;
    throw scopeError(unit, 'stop', error);
  }
}

/** A unit's property of string type (interface Unit, Scope, …). */
export function unitProperty(manager: UserManager, unit: string, iface: string, property: string): string {
  const path = manager.bus.call({ ...MANAGER, member: 'GetUnit' }, [{ type: 's', value: unit }]) ?? '';
  return manager.bus.getString(SYSTEMD, path, `${SYSTEMD}.${iface}`, property);
}

// The job object exists until the job ends; then the unit's state says how it ended. Polling
// avoids a signal subscription (and a callback from C) for a job that takes milliseconds.
async function waitForJob(manager: UserManager, job: string, request: ScopeRequest): Promise<void> {
  const deadline = Date.now() + (request.timeoutMs ?? 30_000);
  for (;;) {
    try {
      manager.bus.getString(SYSTEMD, job, `${SYSTEMD}.Job`, 'State');
    } catch (error) {
      if (!(error instanceof DbusError)) throw scopeError(request.unit, 'wait for', error);
      break;
    }
    if (Date.now() > deadline)
      throw scopeError(
        request.unit,
        'wait for',
        new Error(`job ${job} still running after ${request.timeoutMs ?? 30_000} ms`),
      );
    await sleep(10);
  }
  let state: string;
  try {
    state = unitProperty(manager, request.unit, 'Unit', 'ActiveState');
  } catch (error) {
    throw scopeError(
      request.unit,
      'start',
      error instanceof DbusError ? new Error('the scope failed and was collected (Result: resources?)') : error,
    );
  }
  if (state !== 'active') throw scopeError(request.unit, 'start', new Error(`the scope is ${state}`));
}

function scopeError(unit: string, step: string, cause: unknown): HutchError {
  return new CgroupError('CGROUP_SCOPE_FAILED', `cannot ${step} systemd scope ${unit}: ${describeCause(cause)}`, {
    cause,
    hint:
      'check `systemctl --user status ' +
      unit +
      '` and `journalctl --user -u ' +
      unit +
      '`; or run with --cgroup-manager=cgroupfs inside a delegated cgroup, or --cgroups=disabled',
  });
}
