import { resourcesFromFlags } from '../../cgroups/flags.js';
import type { RunCommandRequest } from '../../engine/container/foreground.js';
import { hostEnvironment } from '../../engine/spec/host-env.js';

/** The container's own system folders: a working directory there is not bound over the image's (Apptainer's rule). */
const SYSTEM_DIRS = [
  '/bin',
  '/boot',
  '/dev',
  '/etc',
  '/lib',
  '/lib32',
  '/lib64',
  '/proc',
  '/run',
  '/sbin',
  '/sys',
  '/usr',
  '/var',
];

/** What the profile reads of the caller: where they are and what they have (tests give plain values). */
export interface CallerContext {
  cwd: string;
  home: string;
  env: NodeJS.ProcessEnv;
  /** Whether a host path exists (a home that is not there is not bound). */
  exists(path: string): boolean;
}

/** The flags that opt out of a part of the profile (an explicit flag always wins). */
export interface ProfileChoices {
  /** --userns or --uidmap/--gidmap given: the profile's keep-id does not apply. */
  explicitUserns: boolean;
  /** --cleanenv: only the job's variables pass (SLURM_*, PMI_*, OMPI_*, ...). */
  cleanenv: boolean;
}

/**
 * `--hpc`, Apptainer's habits (docs/hpc.md): the user's own uid inside (keep-id; the user alone
 * without a subuid range), their home, the working directory and /tmp bound at the same paths,
 * the working directory as workdir, the host's network, PID, IPC (MPI's shared memory) and UTS
 * namespaces, the caller's environment but the blocklist (src/engine/spec/host-env.ts), and no
 * cgroup of its own unless a limit asks for one (a batch job's cgroup holds it). Pure.
 */
export function applyHpcProfile(
  req: RunCommandRequest,
  caller: CallerContext,
  choices: ProfileChoices,
): RunCommandRequest {
  const under = (p: string, dir: string): boolean => p === dir || p.startsWith(dir + '/');
  // Each once, none inside another, none over a system folder or holding -v's separator.
  const binds = [caller.home, '/tmp', caller.cwd]
    .filter((p, i, all) => p !== '/' && !p.includes(':') && all.indexOf(p) === i && caller.exists(p))
    .filter((p) => !SYSTEM_DIRS.some((dir) => under(p, dir)))
    .filter((p, _, all) => !all.some((q) => q !== p && under(p, q)));
  const setup = req.setup === undefined ? undefined : { ...req.setup };
  if (setup !== undefined) {
    setup.networkMode ??= 'host';
    if (setup.cgroups === undefined && Object.keys(resourcesFromFlags(setup)).length === 0) setup.cgroups = 'disabled';
  }
  return {
    ...withHostEnv(req, caller.env, choices.cleanenv ? 'job' : 'all'),
    setup,
    userns: choices.explicitUserns ? req.userns : 'keep-id',
    volumes: [...binds.map((p) => `${p}:${p}`), ...req.volumes],
    workdir: req.workdir ?? caller.cwd,
    pid: req.pid ?? 'host',
    ipc: req.ipc ?? 'host',
    uts: req.uts ?? 'host',
  };
}

/** --env-host (and --hpc): the caller's variables, under containers.conf's, the image's and the flags'. */
export function withHostEnv(req: RunCommandRequest, env: NodeJS.ProcessEnv, scope: 'all' | 'job'): RunCommandRequest {
  return { ...req, defaultEnv: [...hostEnvironment(env, scope), ...(req.defaultEnv ?? [])] };
}
