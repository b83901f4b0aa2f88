import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';

/**
 * Where hutch keeps its state (docs/architecture.md, "Where the state lives"). `root` (the global --root
 * flag, or HUTCH_ROOT) overrides both trees, as in podman and runc: data at ROOT/data and
 * runtime files at ROOT/run.
 */
export interface HutchPaths {
  /** Persistent: blobs/, layers/, images.json, containers/. */
  data: string;
  /** Volatile: sockets, pid files, mount points. */
  run: string;
}

export function hutchPaths(root: string | undefined = process.env.HUTCH_ROOT, env: NodeJS.ProcessEnv = process.env): HutchPaths {
  if (root !== undefined && root !== '') return { data: join(root, 'data'), run: join(root, 'run') };
  const dataHome = env.XDG_DATA_HOME || join(env.HOME || homedir(), '.local', 'share');
  const runtimeDir = env.XDG_RUNTIME_DIR ? join(env.XDG_RUNTIME_DIR, 'hutch') : `/tmp/hutch-${userInfo().uid}`;
  return { data: join(dataHome, 'hutch'), run: runtimeDir };
}
