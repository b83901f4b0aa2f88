/**
 * The caller's environment passed into a container (--env-host, and --hpc by default), as
 * Apptainer passes it: everything but a documented blocklist (README.md, docs/hpc.md). Under
 * --cleanenv only the job's own variables pass: the scheduler's and the MPI launcher's, so a
 * rank still finds its place in the job.
 */

/** Names never passed: hutch sets them, or they name the caller's paths, sockets and fds. */
export const HOST_ENV_BLOCKED: readonly string[] = [
  // The container keeps its image's PATH and gets the HOME hutch sets (the user's, or the image user's).
  'PATH',
  'HOME',
  'HOSTNAME',
  // The shell's own bookkeeping, meaningless in another process tree.
  'PWD',
  'OLDPWD',
  'SHLVL',
  '_',
  // The host's loader paths would load host libraries into the image's programs.
  'LD_PRELOAD',
  'LD_LIBRARY_PATH',
  'LD_AUDIT',
  // The caller's session: sockets and fds that are not reachable inside.
  'XDG_RUNTIME_DIR',
  'DBUS_SESSION_BUS_ADDRESS',
  'SSH_AUTH_SOCK',
  'NOTIFY_SOCKET',
  'LISTEN_FDS',
  'LISTEN_PID',
  'LISTEN_FDNAMES',
  // hutch's and containers/common's own configuration, and its registry credentials.
  'REGISTRY_AUTH_FILE',
];

/** Prefixes never passed: hutch's own settings, containers/common's, and exported shell functions. */
export const HOST_ENV_BLOCKED_PREFIXES: readonly string[] = ['HUTCH_', 'CONTAINERS_', 'BASH_FUNC_'];

/** The job's variables, which pass even under --cleanenv: Slurm's, PMI's and PMIx's, Open MPI's and PRRTE's, Hydra's. */
export const JOB_ENV_PREFIXES: readonly string[] = ['SLURM_', 'PMI_', 'PMIX_', 'OMPI_', 'PRTE_', 'HYDRA_'];

/** Which of the caller's variables go in: all but the blocklist, or only the job's (--cleanenv). */
export type HostEnvScope = 'all' | 'job';

/** KEY=VALUE entries of `env` that a container gets in `scope`, in the caller's order. */
export function hostEnvironment(env: NodeJS.ProcessEnv, scope: HostEnvScope): string[] {
  return Object.entries(env)
    .filter((entry): entry is [string, string] => entry[1] !== undefined && passes(entry[0], scope))
    .map(([k, v]) => `${k}=${v}`);
}

function passes(name: string, scope: HostEnvScope): boolean {
  if (name === '' || name.includes('=')) return false;
  if (HOST_ENV_BLOCKED.includes(name) || HOST_ENV_BLOCKED_PREFIXES.some((p) => name.startsWith(p))) return false;
  return scope === 'all' || JOB_ENV_PREFIXES.some((p) => name.startsWith(p));
}
