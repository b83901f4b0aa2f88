import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../../errors.js';
import type { Mount } from '../../runtime/spec.js';
import { childProcess } from '../../sys/on-use.js';
import { cdiEdits, type CdiSpec, type DeviceEdits } from './cdi.js';
import { deviceMount } from './devices.js';

const NVIDIA_KIND = 'nvidia.com/gpu';
const NVIDIA_BINARIES = ['nvidia-smi', 'nvidia-debugdump', 'nvidia-persistenced'];

/**
 * `--gpus` as docker reads it: `all`, a count N (the first N GPUs: the nvidia.com/gpu CDI spec's
 * devices named by index), `device=A,B` (CDI names: indices or UUIDs; docker's quoted form too);
 * `count=N` and `all` may also be written as docker's keys. `all` takes the CDI spec when there is
 * one, else what nvidia-container-cli and Apptainer's --nv bind: the /dev/nvidia* nodes, the
 * driver's libraries from the host's ld cache (at their own paths, so a Debian-like image finds
 * them) and its tools; picking GPUs needs the CDI spec.
 */
export function gpuEdits(value: string, specs: CdiSpec[], dev = '/dev'): DeviceEdits {
  const request = parseGpus(value);
  const spec = specs.some((s) => s.kind === NVIDIA_KIND);
  if (request === 'all' && spec) return cdiEdits([`${NVIDIA_KIND}=all`], specs);
  if (request !== 'all' && !spec)
    throw new UsageError(
      'GPU_NOT_FOUND',
      `cannot add --gpus ${value}: picking GPUs needs the ${NVIDIA_KIND} CDI spec`,
      {
        hint: 'generate it (nvidia-ctk cdi generate --output /etc/cdi/nvidia.yaml), or use --gpus all',
      },
    );
  if (typeof request === 'number') return cdiEdits(firstGpus(value, request, specs), specs);
  if (request !== 'all')
    return cdiEdits(
      request.map((name) => `${NVIDIA_KIND}=${name}`),
      specs,
    );
  if (!existsSync(join(dev, 'nvidiactl')))
    throw new UsageError('GPU_NOT_FOUND', `cannot add --gpus all: no ${NVIDIA_KIND} CDI spec and no ${dev}/nvidiactl`, {
      hint: 'install the NVIDIA driver (and nvidia-ctk cdi generate for a CDI spec), or run without --gpus',
    });
  return { env: [], mounts: [...nvidiaNodes(dev), ...driverFiles()] };
}

/** all, N or count=N, device=A[,B...] (in docker's quotes or not); anything else is refused. */
export function parseGpus(value: string): 'all' | number | string[] {
  const v = value.replace(/^"(.*)"$/, '$1');
  if (v === 'all' || v === 'count=all') return 'all';
  const count = /^(?:count=)?([1-9]\d{0,3})$/.exec(v);
  if (count) return Number(count[1]);
  const devices = /^device=([A-Za-z0-9_.:-]+(?:,[A-Za-z0-9_.:-]+)*)$/.exec(v);
  if (devices) return devices[1]!.split(',');
  throw new UsageError('GPUS_INVALID', `invalid --gpus ${value}: hutch reads all, a count N, or device=A,B`, {
    hint: `e.g. --gpus all, --gpus 2 or --gpus device=0,1 (capabilities and drivers are the CDI spec's, not options)`,
  });
}

/** The first `count` GPUs of the nvidia.com/gpu spec, by index (docker's --gpus N). */
function firstGpus(value: string, count: number, specs: CdiSpec[]): string[] {
  const indices = [
    ...new Set(
      specs.filter((s) => s.kind === NVIDIA_KIND).flatMap((s) => [...s.devices.keys()].filter((n) => /^\d+$/.test(n))),
    ),
  ].sort((a, b) => Number(a) - Number(b));
  if (indices.length < count)
    throw new UsageError(
      'GPU_NOT_FOUND',
      `cannot add --gpus ${value}: the ${NVIDIA_KIND} CDI spec has ${indices.length} GPU${indices.length === 1 ? '' : 's'} by index (${indices.join(', ') || 'none'})`,
      { hint: `ask for at most ${indices.length}, or name them: --gpus device=0,1` },
    );
  return indices.slice(0, count).map((n) => `${NVIDIA_KIND}=${n}`);
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
      return childProcess().execFileSync(ldconfig, ['-p'], { encoding: 'utf8' });
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
