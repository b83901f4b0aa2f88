import { lstatSync, mkdirSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import { UsageError } from './errors.js';

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

export function hutchPaths(
  root: string | undefined = process.env.HUTCH_ROOT,
  env: NodeJS.ProcessEnv = process.env,
): HutchPaths {
  if (root !== undefined && root !== '') {
    privateDir(root, 'the state directory (--root)');
    return { data: join(root, 'data'), run: join(root, 'run') };
  }
  const dataHome = env.XDG_DATA_HOME || join(env.HOME || homedir(), '.local', 'share');
  // Without XDG_RUNTIME_DIR the folder is in /tmp, where another user could have made it first.
  const runtimeDir = env.XDG_RUNTIME_DIR
    ? join(env.XDG_RUNTIME_DIR, 'hutch')
    : privateTmpDir(`/tmp/hutch-${userInfo().uid}`);
  return { data: join(dataHome, 'hutch'), run: runtimeDir };
}

/** Makes `dir` (mode 0700) unless it exists, then requires it to be private: see privateDir. */
export function privateTmpDir(dir: string): string {
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  privateDir(dir, 'the runtime directory');
  return dir;
}

/**
 * Refuses a state directory that is not the user's own: one another user owns or may write to
 * could have its run files renamed or replaced under a live container, and a symlink could point
 * anywhere. A missing one is fine (hutch makes it 0700).
 */
export function privateDir(dir: string, what: string): void {
  let st;
  try {
    st = lstatSync(dir);
  } catch {
    return;
  }
  const uid = process.getuid?.() ?? -1;
  const why = st.isSymbolicLink()
    ? 'it is a symlink'
    : !st.isDirectory()
      ? 'it is not a directory'
      : st.uid !== uid
        ? `it belongs to uid ${st.uid}, not to you (uid ${uid})`
        : (st.mode & 0o002) !== 0
          ? `others may write to it (mode ${(st.mode & 0o777).toString(8)})`
          : undefined;
  if (why === undefined) return;
  throw new UsageError('STATE_DIR_UNSAFE', `cannot use ${dir} as ${what}: ${why}`, {
    hint: 'give a directory of your own that only you can write to (--root, or set XDG_RUNTIME_DIR); if another user made it, remove it',
  });
}
