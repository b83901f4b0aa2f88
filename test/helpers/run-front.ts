// The two paths of `hutch run --rootfs` side by side (native/hutch-run-front, which bin/hutch
// execs, and `node bin/hutch`, the reference), for the files that compare them as a user with
// no subordinate range or with several: run-front.test.ts, run-front.nosubid.test.ts, run-front.overlap.test.ts.
import { execa } from 'execa';
import { readFileSync } from 'node:fs';
import { HUTCH } from './hutch-cli.js';
import { processTree } from './process-tree.js';

export const PATH = '/usr/local/bin:/usr/bin:/bin';

export type Via = 'c' | 'node';

/** bin/hutch (the C front) or `node bin/hutch` (the TypeScript path) in `cwd`, with exactly PATH, HOME and `env`. */
export function hutchVia(
  via: Via,
  args: string[],
  at: { cwd: string; home: string },
  env: Record<string, string> = {},
) {
  // Node through sh as bin/hutch starts it (`exec node -- ...`): sh passes the environment on in
  // an order of its own, which the front gets too and process.env lists (--env-host keeps it).
  const words =
    via === 'c' ? [HUTCH, ...args] : ['/bin/sh', '-c', 'exec "$0" -- "$@"', process.execPath, HUTCH, ...args];
  return execa(words[0]!, words.slice(1), {
    env: { PATH, HOME: at.home, ...env },
    extendEnv: false,
    encoding: 'buffer',
    reject: false,
    cwd: at.cwd,
    stdin: 'ignore',
  });
}

/** `hutch --root ROOT run --network none --rootfs ROOTFS ...rest`. */
export function noNetworkRun(root: string, rootfs: string, ...rest: string[]): string[] {
  return ['--root', root, 'run', '--network', 'none', '--rootfs', rootfs, ...rest];
}

/** The C front's proof switch: a hand-over exits 99 with its reason. */
export const IN_C = { HUTCH_RUN_NO_NODE: '1' };

export function text(b: Uint8Array): string {
  return Buffer.from(b).toString();
}

/** The plan with the run's id (and the hostname, its first 12 digits) made the same on both paths. */
export function normalized(plan: Uint8Array): string {
  const bytes = Buffer.from(plan).toString('latin1');
  const id = /ephemeral\/([0-9a-f]{64})/.exec(bytes)?.[1];
  if (id === undefined) return bytes;
  return bytes.replaceAll(id, 'I'.repeat(64)).replaceAll(id.slice(0, 12), 'H'.repeat(12));
}

/** hutchVia once the container's command printed "up" (in an object: awaiting the child itself would wait for its end). */
export async function startedVia(
  via: Via,
  args: string[],
  at: { cwd: string; home: string },
  env: Record<string, string> = {},
) {
  const child = hutchVia(via, args, at, env);
  await new Promise<void>((resolve) =>
    child.stdout.on('data', (d: Buffer) => d.toString().includes('up') && resolve()),
  );
  return { child };
}

/**
 * bin/hutch on `args` in C (a hand-over would exit 99), once its container printed "up", with the
 * container's process (the helper's child, in the host's pid namespace) and its host ids.
 */
export async function containerOutside(args: string[], at: { cwd: string; home: string }) {
  const { child } = await startedVia('c', args, at, IN_C);
  const [, helper, container] = processTree(child.pid!);
  if (container === undefined) throw new Error(`no container process under ${helper?.command ?? child.pid}`);
  const status = readFileSync(`/proc/${container.pid}/status`, 'utf8');
  const ids = (field: string): number[] =>
    (new RegExp(`^${field}:\\s+(.*)$`, 'm').exec(status)?.[1] ?? '').trim().split(/\s+/).map(Number);
  return { child, uids: ids('Uid'), gids: ids('Gid'), groups: (/^Groups:\s*(.*)$/m.exec(status)?.[1] ?? '').trim() };
}
