import { CAPABILITIES } from '../../runtime/linux.js';
import type { IdMapping, Spec } from '../../runtime/spec.js';
import { createContainer, type CreatedContainer, type LaunchOptions } from './launch.js';

/** A program to run as root of a new user namespace, with a mount namespace of its own. */
export interface UsernsProgram {
  args: string[];
  env?: string[];
  cwd?: string;
  uidMappings: IdMapping[];
  gidMappings: IdMapping[];
}

/**
 * Starts a program (the Node monitor that mounts the union filesystem) inside a new user namespace
 * with its id maps written, in a new mount namespace, without a root of its own. Containers it
 * launches through `runContainer` with a spec that has no user namespace join this one, and their
 * mount namespaces are cloned from the program's, so they see what it mounted (docs/storage.md).
 * The program runs with every capability in the namespace; it is started when this resolves.
 */
export async function launchInUserNamespace(
  program: UsernsProgram,
  options: Pick<LaunchOptions, 'stdio' | 'hooks' | 'faultSteps' | 'detach' | 'onItsOwn' | 'spawned'> = {},
  joinUserns?: string,
): Promise<CreatedContainer> {
  const container = await createContainer(usernsProgramSpec(program, joinUserns), options);
  await container.start();
  return container;
}

/**
 * The spec launchInUserNamespace launches (the C front's union, native/run-front-union.c, makes the
 * same plans: test/integration/run-front-union.test.ts compares them). joinUserns: an existing user
 * namespace (--network container:ID), its id maps already written.
 */
export function usernsProgramSpec(program: UsernsProgram, joinUserns?: string): Spec {
  const user = joinUserns === undefined ? { type: 'user' as const } : { type: 'user' as const, path: joinUserns };
  return {
    ociVersion: '1.2.0',
    process: {
      ...programUser(program),
      args: program.args,
      env: program.env ?? envList(process.env),
      cwd: program.cwd ?? process.cwd(),
    },
    linux: {
      namespaces: [user, { type: 'mount' }],
      uidMappings: program.uidMappings,
      gidMappings: program.gidMappings,
      rootfsPropagation: 'rslave',
    },
  };
}

/**
 * Root of the namespace; where root is not mapped (--userns keep-id without a subuid range: the
 * user alone, as themselves), the user's own id with every capability kept across exec as ambient
 * ones, since exec as anyone but root clears them.
 */
function programUser(program: UsernsProgram): Pick<NonNullable<Spec['process']>, 'user' | 'capabilities'> {
  const mapped = (maps: IdMapping[]): number =>
    maps.some((m) => m.containerID === 0) ? 0 : (maps[0]?.containerID ?? 0);
  const uid = mapped(program.uidMappings);
  const gid = mapped(program.gidMappings);
  if (uid === 0) return { user: { uid, gid } };
  const all = [...CAPABILITIES];
  return {
    user: { uid, gid },
    capabilities: { bounding: all, effective: all, permitted: all, inheritable: all, ambient: all },
  };
}

/** `env` as execve's KEY=VALUE list, unset entries left out. */
export function envList(env: NodeJS.ProcessEnv): string[] {
  return Object.entries(env)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${v}`);
}
