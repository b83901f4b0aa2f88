import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../../errors.js';
import type { Mount } from '../../runtime/spec.js';
import { cdiEdits, type CdiSpec, type DeviceEdits } from './cdi.js';
import { deviceMount } from './devices.js';

const NVIDIA_KIND = 'nvidia.com/gpu';
const NVIDIA_BINARIES = ['nvidia-smi', 'nvidia-debugdump', 'nvidia-persistenced'];

/**
 * `--gpus all` (podman's flag): the nvidia.com/gpu CDI spec's devices when there is one, else
 * what nvidia-container-cli and Apptainer's --nv bind: the /dev/nvidia* nodes, the driver's
 * libraries from the host's ld cache (at their own paths, so a Debian-like image finds them) and
 * its tools. Only `all`: picking GPUs by index needs the CDI spec (`--device nvidia.com/gpu=0`).
 */
export function gpuEdits(value: string, specs: CdiSpec[], dev = '/dev'): DeviceEdits {
  if (value !== 'all')
    throw new UsageError('GPUS_INVALID', `invalid --gpus ${value}: hutch has --gpus all`, {
      hint: `pick GPUs through CDI instead, e.g. --device ${NVIDIA_KIND}=0`,
    });
  if (specs.some((s) => s.kind === NVIDIA_KIND)) return cdiEdits([`${NVIDIA_KIND}=all`], specs);
  if (!existsSync(join(dev, 'nvidiactl')))
    throw new UsageError('GPU_NOT_FOUND', `cannot add --gpus all: no ${NVIDIA_KIND} CDI spec and no ${dev}/nvidiactl`, {
      hint: 'install the NVIDIA driver (and nvidia-ctk cdi generate for a CDI spec), or run without --gpus',
    });
  return { env: [], mounts: [...nvidiaNodes(dev), ...driverFiles()] };
}

function nvidiaNodes(dev: string): Mount[] {
  return readdirSync(dev)
    .filter((name) => name.startsWith('nvidia'))
    .sort()
    .map((name) => join(dev, name))
    .filter((path) => statSync(path).isCharacterDevice() || statSync(path).isDirectory())
    .map((path) => deviceMount(path));
}

function driverFiles(): Mount[] {
  const libs = ldconfigLibraries(ldconfigOutput());
  const bins = NVIDIA_BINARIES.map(findBinary).filter((p): p is string => p !== undefined);
  return [
    ...libs.map((path) => readOnlyBind(path, path)),
    ...bins.map((path) => readOnlyBind(path, `/usr/bin/${path.slice(path.lastIndexOf('/') + 1)}`)),
  ];
}

/** The driver's libraries (libnvidia-*, libcuda*) in `ldconfig -p`'s listing, each path once. */
export function ldconfigLibraries(listing: string): string[] {
  const paths = listing
    .split('\n')
    .map((line) => /^\s*((?:libnvidia-|libcuda)\S*) \(.*\) => (\/\S+)$/.exec(line)?.[2])
    .filter((p): p is string => p !== undefined);
  return [...new Set(paths)];
}

function ldconfigOutput(): string {
  for (const ldconfig of ['/sbin/ldconfig', '/usr/sbin/ldconfig', 'ldconfig'])
    try {
      return execFileSync(ldconfig, ['-p'], { encoding: 'utf8' });
    } catch {
      // the next candidate
    }
  throw new UsageError('GPU_NOT_FOUND', "cannot add --gpus all: cannot list the driver's libraries with ldconfig -p", {
    hint: "install libc-bin's ldconfig, or bind the driver's libraries with -v",
  });
}

function findBinary(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':').filter((d) => d.startsWith('/')), '/usr/bin', '/usr/sbin'];
  return dirs.map((d) => join(d, name)).find((p) => existsSync(p));
}

function readOnlyBind(source: string, destination: string): Mount {
  return { destination, type: 'bind', source, options: ['bind', 'nosuid', 'nodev', 'ro'] };
}
