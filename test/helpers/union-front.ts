// native/run-front-union.c driven alone by test/fixtures/union-front.c (built once per file with
// the C front's files), over a sandbox with an image loaded (useImageSandbox), for
// run-front-union.test.ts (a user with subordinate ranges) and its .nosubid. file (the user alone).
import { execa } from 'execa';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeAll, expect } from 'vitest';
import { launchPlan } from '../../src/engine/launch/launch.js';
import { usernsProgramSpec } from '../../src/engine/launch/userns-program.js';
import { encodePlan } from '../../src/runtime/nsexec.js';
import { rootMaps } from '../../src/userns/idmap.js';
import { readSubid } from '../../src/userns/subid.js';
import { expectNoContainerFolders } from './frames.js';
import { REPO, type Sandbox } from './hutch-cli.js';

/** Variables over the test's environment, or the whole environment as environ's strings (a name may repeat). */
export type Environment = Record<string, string> | string[];

/** A mount union-front holds until `stop()`: its holder, the one union_holder_early gave (or 0), begin to mounted. */
export interface HeldMount {
  dir: string;
  holder: number;
  early: number;
  ms: number;
  /** union_died's words, or "serving". */
  died(): Promise<string>;
  /** union_stop; what union-front said on stderr (the holder's words included) matches `stderr` (default: nothing). */
  stop(stderr?: RegExp): Promise<void>;
}

/**
 * Builds union-front before the file's tests and, after each, expects no shared daemon and no
 * container folder left in the sandbox `box()` (whose store holds `image`).
 */
export function useUnionFront(box: () => Sandbox, image: string) {
  let program = '';
  let withEnviron = '';
  beforeAll(() => {
    const built = mkdtempSync(join(tmpdir(), 'hutch-union-front-'));
    program = join(built, 'union-front');
    withEnviron = join(built, 'with-environ');
    execFileSync('cc', [
      '-O2',
      '-Wall',
      '-Werror',
      '-o',
      withEnviron,
      join(REPO, 'test', 'fixtures', 'with-environ.c'),
    ]);
    const native = (f: string): string => join(REPO, 'native', f);
    const files = [
      'run-front-union.c',
      'run-front-conf.c',
      'run-front-image.c',
      'run-front-registries.c',
      'run-front-plan.c',
      'front-util.c',
      'front-json.c',
      'front-helper.c',
      'proc-start.c',
    ];
    execFileSync('cc', [
      ...['-O2', '-Wall', '-Wextra', '-Werror', '-std=gnu11', '-D_GNU_SOURCE', '-I', join(REPO, 'native')],
      ...['-o', program, join(REPO, 'test', 'fixtures', 'union-front.c'), ...files.map(native), '-ldl'],
    ]);
  });
  afterEach(async () => {
    expect(await daemonGone(), 'the shared daemon outlived its last mount').toBe(true);
    expectNoContainerFolders(box().root);
  });

  const run = (): string => join(box().root, 'run');
  const fsd = (): string => join(run(), 'fsd');

  /** The pids of the shared daemons of the sandbox's store (their pid files). */
  function daemons(): number[] {
    return existsSync(fsd())
      ? readdirSync(fsd())
          .filter((n) => n.endsWith('.pid'))
          .map((n) => Number(readFileSync(join(fsd(), n), 'utf8').trim()))
      : [];
  }

  /** Waits (at most ~10 s) until no daemon is left: no pid file, no socket, no process. */
  async function daemonGone(pids: number[] = daemons()): Promise<boolean> {
    for (let i = 0; i < 200; i++) {
      const files = existsSync(fsd()) ? readdirSync(fsd()).filter((n) => !/\.(lock|log|log\.old)$/.test(n)) : [];
      if (files.length === 0 && !pids.some(alive)) return true;
      await sleep(50);
    }
    return false;
  }

  /** The image's layers, top first, each with its index (the store's layout). */
  function layers(): string[] {
    const inspect = JSON.parse(
      execFileSync(process.execPath, [join(REPO, 'bin', 'hutch'), 'image', 'inspect', '--root', box().root, image], {
        encoding: 'utf8',
      }),
    ) as { RootFS: { Layers: string[] } }[];
    return [...inspect[0]!.RootFS.Layers].reverse().flatMap((diffId) => {
      const dir = join(box().root, 'data', 'layers', 'sha256', diffId.replace('sha256:', ''));
      return [join(dir, 'root'), join(dir, 'index.hli')];
    });
  }

  /**
   * `command` ARGS with the test's environment (`env` over it), or with exactly `env` given as a list
   * (environ's strings, a name given twice included: with-environ execs it).
   */
  function withEnv(command: string, args: string[], env: Environment) {
    return Array.isArray(env)
      ? ([withEnviron, [...env, '--', command, ...args], { env: {}, extendEnv: false }] as const)
      : ([command, args, { env }] as const);
  }

  /** union-front ARGS with the test's environment and PATH (`env` over it), or exactly `env`'s list. */
  function unionFront(args: string[], env: Environment = {}) {
    const [command, words, options] = withEnv(program, [REPO, run(), ...args], env);
    return execa(command, words, { reject: false, stdin: 'pipe', stripFinalNewline: false, ...options });
  }

  /** union-front's plan of `what` (daemon-plan, holder-plan ARG) in exactly `env`. */
  async function planInC(args: string[], env: Environment = process.env as Record<string, string>) {
    const [command, words, options] = withEnv(program, [REPO, run(), ...args], env);
    const r = await execa(command, words, { encoding: 'buffer', extendEnv: false, ...options });
    return Buffer.from(r.stdout);
  }

  /** The image's union mounted at box/NAME/merged (`how`: mount or mount-early) and held. */
  async function mounted(name: string, env: Environment = {}, how = 'mount'): Promise<HeldMount> {
    const dir = join(box().dir, name);
    mkdirSync(dir, { recursive: true });
    const child = unionFront([how, dir, ...layers()], env);
    let out = '';
    const lines = (): string[] => out.split('\n').slice(0, -1);
    const line = await new Promise<string>((resolve, reject) => {
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()).includes('\n') && resolve(out));
      void child.then((r) => reject(new Error(`union-front ended: ${r.stderr}`)));
    });
    const [, holder, ms, early] = /^mounted (\d+) ([\d.]+) (\d+)/.exec(line) ?? [];
    expect(holder, line).toBeDefined();
    return {
      dir,
      holder: Number(holder),
      early: Number(early),
      ms: Number(ms),
      died: async () => {
        const before = lines().length;
        child.stdin!.write('died?\n');
        while (lines().length === before) await sleep(10);
        return lines().at(-1)!;
      },
      stop: async (stderr = /^$/) => {
        child.stdin!.end('\n');
        const r = await child;
        expect(r.stderr).toMatch(stderr);
        expect(r.stdout).toContain('stopped');
      },
    };
  }

  return { run, fsd, daemons, daemonGone, layers, unionFront, planInC, mounted, withEnv };
}

export function alive(pid: number): boolean {
  try {
    return !/^\S+ \(.*\) [ZX] /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** `script` run by sh in the holder's user and mount namespaces (as the container's helper joins them). */
export function inHolder(holder: number, script: string): string {
  return execFileSync('nsenter', ['-t', String(holder), '-U', '-m', '--preserve-credentials', 'sh', '-c', script], {
    encoding: 'utf8',
  });
}

/** The plan launchInUserNamespace makes for `program` with this user's default maps (idMaps 'auto'). */
export function usernsPlan(
  program: { args: string[]; env: string[] },
  options: { onItsOwn?: boolean; detach?: boolean },
): Buffer {
  const me = userInfo();
  const owner = { name: me.username, id: me.uid };
  const maps = {
    uidMappings: rootMaps(me.uid, readSubid('uid', owner)),
    gidMappings: rootMaps(me.gid, readSubid('gid', owner)),
  };
  return encodePlan(launchPlan(usernsProgramSpec({ ...program, cwd: '/', ...maps }), options).plan).bytes;
}
