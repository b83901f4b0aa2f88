/**
 * Runs one entry of hutch's CommonJS bundle (dist/bundle/NAME.cjs, made by scripts/bundle.mjs)
 * through a V8 code cache. Compiling the bundle, and every function a command then calls, is a
 * fifth of a `hutch run`; Node 20 has no compile cache for modules, but vm.Script takes one.
 *
 * The cache lives in the user's private runtime folder (tmpfs on most hosts), one file per entry
 * and CLI verb (a verb's first run compiles what it calls; later runs get all of it), named by the
 * bundle's size and mtime and Node's version. V8 rejects a cache that does not match the source or
 * its flags; the entry then compiles as usual and writes a fresh cache when it exits. A folder not
 * owned by the user alone is never read or written: a cache is code.
 *
 * CommonJS (.cts) and standalone on purpose: it runs before anything else is loaded (but
 * early-monitor.cts, for `run -d` and `create`, which is standalone too).
 * Usage: require('.../bundle-loader.cjs').runBundle('cli'), or `node bundle-loader.cjs NAME ARGS...`.
 */
import {
  appendFileSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire, wrap } from 'node:module';
import { join } from 'node:path';
import { Script } from 'node:vm';
import { startEarlyMonitor } from './early-monitor.cjs';

/** Carries the cache folder to the processes hutch starts (see cachePath). */
const CACHE_ENV = 'HUTCH_CODE_CACHE_DIR';

/** What sys/exec.ts execve runs first (the bundle has its own copy of modules: globalThis). */
const BEFORE_EXEC = Symbol.for('hutch.beforeExec');
type BeforeExec = { [BEFORE_EXEC]?: () => void };

/** runc's verbs, which name the runtime entry's caches (src/cli/runtime/syntax.ts parses them). */
const RUNTIME_VERBS = /^(create|run|start|state|kill|delete|exec|ps|list|features|spec|update)$/;

export function runBundle(name: string): void {
  trace(`load ${name}`);
  unburdenChildren(process.env);
  const file = join(__dirname, '..', '..', 'bundle', `${name}.cjs`);
  // Before the bundle is read: the cache folder set in the environment the monitor inherits.
  const cacheFile = cachePath(name, file);
  if (name === 'cli') startEarlyMonitor(process.argv.slice(2), __filename, trace);
  let source: string;
  try {
    source = readFileSync(file, 'utf8');
  } catch (error) {
    process.stderr.write(
      `hutch: cannot start: ${file} is missing or unreadable (${(error as NodeJS.ErrnoException).code ?? String(error)})\nhint: build hutch first: npm run build\n`,
    );
    process.exit(125);
  }
  let cached: Buffer | undefined;
  try {
    if (cacheFile !== undefined) cached = readFileSync(cacheFile);
  } catch {
    // no cache yet
  }
  const script = new Script(wrap(source), { filename: file, cachedData: cached });
  trace('compiled');
  const stale = cacheFile !== undefined && (cached === undefined || script.cachedDataRejected === true);
  // The CLI's cache is written at exit, with everything the command compiled; the monitor's once
  // loaded (it ends by a signal). The union daemon's loop runs inside its bundle's evaluation, so
  // its cache is written when it leaves, with what it served (one killed writes none).
  const atExit = name === 'cli' || name === 'sandbox' || name === 'runtime'; // a command line: its cache holds what the command ran
  if (stale && atExit) {
    let written = false;
    const write = (): void => {
      if (!written) writeCache(cacheFile, script);
      written = true;
    };
    process.once('exit', write);
    // A `run -d` that becomes its container's monitor ends by an exec, which runs no exit handler.
    (globalThis as BeforeExec)[BEFORE_EXEC] = write;
  }
  const module = { exports: {}, filename: file, id: file };
  (script.runInThisContext() as (...args: unknown[]) => void).call(
    module.exports,
    module.exports,
    createRequire(file),
    module,
    file,
    join(file, '..'),
  );
  trace('evaluated');
  if (stale && !atExit) writeCache(cacheFile, script);
}

/**
 * NODE_EXTRA_CA_CERTS makes every Node process read and parse that file of certificates as it
 * starts, before any of its code runs (~45 ms of a 2-core machine where it names Debian's
 * ca-certificates.crt: 88 ms from Node's start to a script's first line instead of 44). Node reads it
 * once, at its start, so this process keeps what it trusts (the registry client's TLS); the
 * processes hutch starts (the monitor, the union daemon: none speaks TLS) no longer pay for it.
 */
export function unburdenChildren(env: NodeJS.ProcessEnv): void {
  delete env.NODE_EXTRA_CA_CERTS;
}

/** HUTCH_TRACE's lines of the loader (src/sys/trace.ts writes the rest; this file imports nothing of hutch). */
function trace(step: string): void {
  const file = process.env.HUTCH_TRACE;
  if (file) appendFileSync(file, `${(performance.timeOrigin + performance.now()).toFixed(1)} ${process.pid} ${step}\n`);
}

/**
 * Where the cache of `name` is, or undefined when there is no private folder to keep it in. The
 * processes hutch starts inside user namespaces (the FUSE daemon, root there) inherit the folder
 * through the environment: their own uid would name another user's folder.
 */
function cachePath(name: string, bundle: string): string | undefined {
  const uid = process.getuid?.();
  if (uid === undefined) return undefined;
  let dir = process.env[CACHE_ENV];
  try {
    if (dir === undefined) {
      // The runtime folder of src/paths.ts (hutchPaths().run), without importing it: nothing is
      // loaded yet. Inside a user namespace (hutch-runtime under podman) only $XDG_RUNTIME_DIR:
      // there /tmp/hutch-UID would name another user's folder.
      const xdg = process.env.XDG_RUNTIME_DIR;
      if (!xdg && readFileSync('/proc/self/uid_map', 'utf8').trim().split(/\s+/).join(' ') !== '0 0 4294967295')
        return undefined;
      const runtime = xdg ? join(xdg, 'hutch') : `/tmp/hutch-${uid}`;
      dir = join(runtime, 'code-cache');
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      if (!privateTo(uid, runtime)) return undefined;
    }
    if (!privateTo(uid, dir)) return undefined;
    process.env[CACHE_ENV] = dir;
    const st = statSync(bundle);
    const verb =
      name === 'cli'
        ? (process.argv.slice(2).find((a) => /^[a-z][a-z-]*$/.test(a)) ?? 'none')
        : name === 'runtime'
          ? (process.argv.slice(3).find((a) => RUNTIME_VERBS.test(a)) ?? 'none') // not a value such as `--log-format json`
          : undefined;
    return join(dir, `${name}${verb ? `-${verb}` : ''}-${st.size}-${Math.trunc(st.mtimeMs)}-${process.version}.v8`);
  } catch {
    return undefined;
  }
}

/** A directory (not a link) of `uid` that no one else may write to. */
function privateTo(uid: number, path: string): boolean {
  const st = lstatSync(path);
  return st.isDirectory() && st.uid === uid && (st.mode & 0o022) === 0;
}

/** Writes the cache atomically (another hutch may be reading it) and drops older ones of the entry. */
function writeCache(cacheFile: string, script: Script): void {
  try {
    const temp = `${cacheFile}.${process.pid}.tmp`;
    writeFileSync(temp, script.createCachedData(), { mode: 0o600 });
    renameSync(temp, cacheFile);
    const dir = join(cacheFile, '..');
    const prefix =
      cacheFile
        .slice(dir.length + 1)
        .split('-')
        .slice(0, -3)
        .join('-') + '-';
    for (const other of readdirSync(dir)) {
      if (other.startsWith(prefix) && join(dir, other) !== cacheFile && !other.endsWith('.tmp'))
        rmSync(join(dir, other), { force: true });
    }
  } catch {
    // a cache we cannot write costs the next run its compile time, nothing more
  }
}

if (require.main === module) {
  const [name] = process.argv.splice(2, 1);
  if (name === undefined) throw new Error('usage: bundle-loader.cjs NAME ARGS...');
  runBundle(name);
}
