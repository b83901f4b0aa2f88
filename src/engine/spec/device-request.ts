import type { Hook, Hooks } from '../../runtime/spec.js';
import { CDI_SPEC_DIRS, cdiEdits, isCdiDevice, readCdiSpecs, type DeviceEdits } from './cdi.js';
import { deviceMount } from './devices.js';
import { gpuEdits } from './gpus.js';

/** The device flags of `hutch run`. */
export interface DeviceFlags {
  /** --device: host paths (devices.ts) and CDI names (cdi.ts). */
  devices?: string[];
  /** --cdi-spec-dir: replaces /etc/cdi and /var/run/cdi. */
  cdiSpecDirs?: string[];
  /** --gpus (gpus.ts). */
  gpus?: string;
}

/** What --device and --gpus add: mounts of host nodes, and the CDI devices' env and mounts. */
export function deviceEdits(flags: DeviceFlags): DeviceEdits {
  const devices = flags.devices ?? [];
  const names = devices.filter(isCdiDevice);
  const paths = devices.filter((d) => !isCdiDevice(d)).map(deviceMount);
  if (names.length === 0 && flags.gpus === undefined) return { env: [], mounts: paths };
  const specs = readCdiSpecs(
    flags.cdiSpecDirs !== undefined && flags.cdiSpecDirs.length > 0 ? flags.cdiSpecDirs : CDI_SPEC_DIRS,
  );
  const cdi = cdiEdits(names, specs);
  const gpus = flags.gpus === undefined ? { env: [], mounts: [] } : gpuEdits(flags.gpus, specs);
  const hooks = mergeHooks(cdi.hooks, gpus.hooks);
  return {
    env: [...cdi.env, ...gpus.env],
    mounts: [...paths, ...cdi.mounts, ...gpus.mounts],
    ...(hooks === undefined ? {} : { hooks }),
  };
}

function mergeHooks(a: Hooks | undefined, b: Hooks | undefined): Hooks | undefined {
  if (a === undefined || b === undefined) return a ?? b;
  const out: Hooks = { ...a };
  for (const [kind, hooks] of Object.entries(b) as [keyof Hooks, Hook[]][])
    out[kind] = [...(out[kind] ?? []), ...hooks];
  return out;
}
