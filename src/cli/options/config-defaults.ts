import type { ContainersConf } from '../../config/containers-conf.js';
import type { RunCommandRequest } from '../../engine/container/foreground.js';

/**
 * containers.conf's defaults under `hutch run`/`create`'s flags, as podman applies them: env
 * under the image's Env and -e; --dns, --dns-search and --dns-option replace the configured
 * lists when given; --ulimit overrides a default_ulimits entry of the same name; volumes are
 * added before -v's; default_capabilities is the set --cap-add/--cap-drop change; userns is the
 * mode when --userns is not given; seccomp_profile is the profile unless --security-opt seccomp= or
 * --privileged says otherwise. Pure.
 */
export function applyConfigDefaults(
  req: RunCommandRequest,
  conf: ContainersConf,
  userns: string | undefined,
): RunCommandRequest {
  const setup =
    req.setup === undefined
      ? undefined
      : {
          ...req.setup,
          dns: req.setup.dns.length > 0 ? req.setup.dns : conf.dnsServers,
          dnsSearch: req.setup.dnsSearch.length > 0 ? req.setup.dnsSearch : conf.dnsSearches,
          dnsOption: (req.setup.dnsOption ?? []).length > 0 ? req.setup.dnsOption : conf.dnsOptions,
        };
  const nameOf = (u: string): string => u.split('=')[0]!;
  const flagged = new Set(req.ulimits.map(nameOf));
  const mode = userns ?? (conf.userns === 'keep-id' ? 'keep-id' : 'auto');
  return {
    ...req,
    setup,
    defaultEnv: conf.env,
    defaultCapabilities: conf.defaultCapabilities,
    defaultSeccomp: conf.seccompProfile,
    ulimits: [...conf.defaultUlimits.filter((u) => !flagged.has(nameOf(u))), ...req.ulimits],
    volumes: [...conf.volumes, ...req.volumes],
    userns: mode === 'keep-id' ? 'keep-id' : 'auto',
  };
}
