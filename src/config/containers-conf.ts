import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ConfigFileError } from '../errors.js';
import { dropIns, readToml, TomlView } from './toml.js';

/**
 * The keys of containers.conf(5) and containers-storage.conf(5) a podman user sets that hutch
 * has a meaning for, read once at the edge (the CLI) into this type. `hutch run`/`create` take
 * them as defaults under their flags (src/cli/options/config-defaults.ts).
 * additionalImageStores is read by the image store (src/image/store.ts additionalStores).
 */
export interface ContainersConf {
  /** [containers] env: K=V entries every container gets (before the image's and -e's). */
  env: string[];
  dnsServers: string[];
  dnsSearches: string[];
  dnsOptions: string[];
  /** NAME=SOFT[:HARD], as --ulimit takes them. */
  defaultUlimits: string[];
  /** Replaces hutch's default capability set when given (names with or without CAP_). */
  defaultCapabilities?: string[];
  /** A seccomp profile file, or "unconfined"; undefined: the built-in default. */
  seccompProfile?: string;
  /** SRC:DST[:OPTIONS], as -v takes them, added to every container. */
  volumes: string[];
  /** The default --userns mode ('' = hutch's own default). */
  userns: string;
  /** hutch's own table, [hutch] hpc = true: `hutch run` and `create` take --hpc by default (--no-hpc opts out). */
  hpc: boolean;
  /** storage.conf [storage.options] additionalimagestores: read-only image stores. */
  additionalImageStores: string[];
  /** The files read, in order (for `hutch info` and error messages). */
  files: string[];
}

const empty = (): ContainersConf => ({
  env: [],
  dnsServers: [],
  dnsSearches: [],
  dnsOptions: [],
  defaultUlimits: [],
  volumes: [],
  userns: '',
  hpc: false,
  additionalImageStores: [],
  files: [],
});

/**
 * Reads containers.conf as podman does for a rootless user, each file overriding the keys it
 * sets: /usr/share/containers/containers.conf, /etc/containers/containers.conf, its .d drop-ins,
 * /etc/containers/containers.rootless.conf and its .d, then the user's containers.conf and .d;
 * CONTAINERS_CONF instead of all of them, CONTAINERS_CONF_OVERRIDE last. Then storage.conf (the
 * first of CONTAINERS_STORAGE_CONF, the user's, /etc's, /usr/share's). `root` prefixes the
 * system paths (tests).
 */
export function loadContainersConf(env: NodeJS.ProcessEnv = process.env, root = ''): ContainersConf {
  const conf = empty();
  const user = join(env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config'), 'containers');
  const files = env.CONTAINERS_CONF
    ? [env.CONTAINERS_CONF]
    : [
        join(root, '/usr/share/containers/containers.conf'),
        join(root, '/etc/containers/containers.conf'),
        ...dropIns(join(root, '/etc/containers/containers.conf.d')),
        join(root, '/etc/containers/containers.rootless.conf'),
        ...dropIns(join(root, '/etc/containers/containers.rootless.conf.d')),
        join(user, 'containers.conf'),
        ...dropIns(join(user, 'containers.conf.d')),
      ];
  if (env.CONTAINERS_CONF_OVERRIDE) files.push(env.CONTAINERS_CONF_OVERRIDE);
  for (const file of files) {
    const table = readToml(file);
    if (table === undefined) continue;
    conf.files.push(file);
    const c = new TomlView(file, table).sub('containers');
    if (c !== undefined) applyContainers(conf, c);
    conf.hpc = new TomlView(file, table).sub('hutch')?.bool('hpc') ?? conf.hpc;
  }
  const storage = (
    env.CONTAINERS_STORAGE_CONF
      ? [env.CONTAINERS_STORAGE_CONF]
      : [
          join(user, 'storage.conf'),
          join(root, '/etc/containers/storage.conf'),
          join(root, '/usr/share/containers/storage.conf'),
        ]
  ).find((f) => existsSync(f));
  const table = storage === undefined ? undefined : readToml(storage);
  if (table !== undefined) {
    conf.files.push(storage!);
    conf.additionalImageStores =
      new TomlView(storage!, table).sub('storage')?.sub('options')?.strings('additionalimagestores') ?? [];
  }
  return conf;
}

function applyContainers(conf: ContainersConf, c: TomlView): void {
  conf.env = c.strings('env') ?? conf.env;
  conf.dnsServers = c.strings('dns_servers') ?? conf.dnsServers;
  conf.dnsSearches = c.strings('dns_searches') ?? conf.dnsSearches;
  conf.dnsOptions = c.strings('dns_options') ?? conf.dnsOptions;
  conf.defaultUlimits = c.strings('default_ulimits') ?? conf.defaultUlimits;
  conf.defaultCapabilities = c.strings('default_capabilities') ?? conf.defaultCapabilities;
  conf.seccompProfile = c.str('seccomp_profile') ?? conf.seccompProfile;
  conf.volumes = c.strings('volumes') ?? conf.volumes;
  const userns = c.str('userns');
  if (userns !== undefined) {
    if (!['', 'host', 'auto', 'keep-id'].includes(userns)) {
      throw new ConfigFileError(
        'CONF_VALUE',
        `${c.file}: containers.userns = ${JSON.stringify(userns)} is a mode hutch does not have`,
        { hint: 'use "keep-id" or "host" (hutch\'s default), or remove the key' },
      );
    }
    conf.userns = userns;
  }
}
