// The user's cgroup commands, enforced: `hutch run -d --rootfs` (no image) in the test guest
// as its unprivileged user, with --memory, --pids-limit, pause/unpause, update, stats and rm -f
// of a double-forked container; and a foreground `run --rm --rootfs` through the C front
// (native/hutch-run-front) in its systemd scope, and in a job's cgroup delegated by root (Slurm),
// as the TypeScript path puts it. Run by
// scripts/test-cgroups-vm.sh, which puts the host's static busybox next to this file (the guest
// has none).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  chmodSync,
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { constants as osConstants, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ContainerState } from '../../src/engine/store/records.js';
import { cgroupIfAlive, cgroupOf } from './held.js';

const here = dirname(fileURLToPath(import.meta.url));
const bin = join(here, '..', '..', '..', 'bin', 'hutch');
const dir = mkdtempSync(join(tmpdir(), 'hutch-cgcmd-'));
const root = join(dir, 'root');
const rootfs = makeRootfs(join(dir, 'rootfs'));
after(() => {
  spawnSync(bin, ['rm', '-f', '--root', root, 'oom', 'limits', 'escape'], { encoding: 'utf8' });
  rmSync(dir, { recursive: true, force: true });
});

function makeRootfs(path: string): string {
  mkdirSync(join(path, 'bin'), { recursive: true });
  for (const d of ['proc', 'dev', 'sys', 'tmp', 'etc']) mkdirSync(join(path, d));
  copyFileSync(join(here, 'busybox'), join(path, 'bin', 'busybox'));
  chmodSync(join(path, 'bin', 'busybox'), 0o755);
  for (const applet of ['sh', 'sleep', 'dd', 'echo', 'cat', 'setsid'])
    symlinkSync('busybox', join(path, 'bin', applet));
  return path;
}

function hutch(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(bin, [args[0]!, '--root', root, ...args.slice(1)], { encoding: 'utf8' });
  if (r.status !== 0) console.log(`hutch ${args.join(' ')}: ${r.stderr.trim()}`);
  return { status: r.status, stdout: r.stdout.trim(), stderr: r.stderr.trim() };
}

function runD(name: string, flags: string[], command: string[]): string {
  const r = hutch('run', '-d', '--name', name, '--network', 'none', ...flags, '--rootfs', rootfs, '--', ...command);
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

function state(id: string): ContainerState {
  return JSON.parse(readFileSync(join(root, 'data', 'containers', id, 'state.json'), 'utf8')) as ContainerState;
}

function cgroupFile(id: string, file: string): string {
  const path = state(id).cgroup?.path;
  assert.ok(path, 'the cgroup is recorded in state.json');
  return readFileSync(join(path, file), 'utf8').trim();
}

async function until(what: string, check: () => boolean, ms = 60_000): Promise<void> {
  for (const end = Date.now() + ms; !check(); await sleep(200))
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
}

test('run -d --memory 50m: a 200 MB allocation is OOM-killed; ps and inspect say so (137, OOMKilled)', () => {
  const id = runD(
    'oom',
    ['--memory', '50m', '--memory-swap', '50m'],
    ['dd', 'if=/dev/zero', 'of=/dev/null', 'bs=200M', 'count=1'],
  );
  assert.equal(hutch('wait', 'oom').stdout, '137');
  const [inspected] = JSON.parse(hutch('inspect', 'oom').stdout) as {
    State: { ExitCode: number; OOMKilled: boolean };
  }[];
  assert.deepEqual([inspected!.State.ExitCode, inspected!.State.OOMKilled], [137, true]);
  const [row] = JSON.parse(hutch('ps', '-a', '--format', 'json').stdout) as { OOMKilled: boolean }[];
  assert.equal(row!.OOMKilled, true);
  assert.equal(state(id).oomKilled, true);
  assert.equal(hutch('rm', 'oom').status, 0);
});

test('--pids-limit 16 refuses the 17th process; stats shows numbers; update raises it live; pause freezes, unpause resumes', async () => {
  // ash exits when a fork fails: the inner shell forks until refused, the outer one keeps ticking.
  const loop =
    "sh -c 'i=0; while [ $i -lt 30 ]; do sleep 600 & i=$((i+1)); done'; while true; do echo tick; sleep 0.3; done";
  const id = runD('limits', ['--pids-limit', '16', '--memory', '64m'], ['sh', '-c', loop]);
  await until(
    'the loop to reach the limit',
    () =>
      existsSync(join(root, 'data', 'containers', id, 'ctr.log')) &&
      readFileSync(join(root, 'data', 'containers', id, 'ctr.log'), 'utf8').includes('tick'),
  );
  assert.equal(cgroupFile(id, 'pids.max'), '16');
  assert.ok(Number(cgroupFile(id, 'pids.current')) <= 16);
  assert.match(hutch('logs', 'limits').stderr, /can't fork|Resource temporarily unavailable/);
  const [row] = JSON.parse(hutch('stats', '--no-stream', '--format', 'json', 'limits').stdout) as Record<
    string,
    string
  >[];
  console.log(JSON.stringify(row));
  assert.match(row!.mem_usage!, /^[\d.]+[kMG]?B \/ 67\.11MB$/);
  assert.ok(Number(row!.pids) >= 10 && Number(row!.pids) <= 16, `pids ${row!.pids}`);
  assert.equal(hutch('update', '--pids-limit', '64', '--memory', '128m', 'limits').status, 0);
  assert.equal(cgroupFile(id, 'pids.max'), '64');
  assert.equal(cgroupFile(id, 'memory.max'), String(128 * 1024 * 1024));
  assert.equal(hutch('pause', 'limits').status, 0);
  assert.equal(state(id).status, 'paused');
  assert.match(cgroupFile(id, 'cgroup.events'), /frozen 1/);
  const frozenLog = hutch('logs', 'limits').stdout;
  await sleep(1500);
  assert.equal(hutch('logs', 'limits').stdout, frozenLog, 'no output while frozen');
  assert.equal(hutch('unpause', 'limits').status, 0);
  assert.equal(state(id).status, 'running');
  await until('output after unpause', () => hutch('logs', 'limits').stdout.length > frozenLog.length);
  assert.equal(hutch('rm', '-f', 'limits').status, 0);
});

test('rm -f of a double-forked container leaves no process', () => {
  const id = runD('escape', [], ['sh', '-c', '(setsid sh -c "sleep 900 & sleep 901" &); exec sleep 902']);
  let pids: number[] = [];
  for (let i = 0; i < 100 && pids.length < 3; i++) {
    pids = cgroupFile(id, 'cgroup.procs').split('\n').filter(Boolean).map(Number);
    execFileSync('sleep', ['0.2']);
  }
  assert.ok(pids.length >= 3, `processes in the cgroup: ${pids.join(' ')}`);
  const path = state(id).cgroup!.path;
  assert.equal(hutch('rm', '-f', 'escape').status, 0);
  assert.deepEqual(
    pids.filter((p) => existsSync(`/proc/${p}`)),
    [],
  );
  assert.equal(existsSync(path), false);
});

test('runtime --systemd-cgroup create: linux.resources and cgroupsPath give a scope with the limits; delete removes it', () => {
  const bundle = join(dir, 'bundle');
  mkdirSync(bundle);
  const uid = process.getuid!();
  const gid = process.getgid!();
  writeFileSync(
    join(bundle, 'config.json'),
    JSON.stringify({
      ociVersion: '1.2.0',
      process: { user: { uid: 0, gid: 0 }, args: ['sleep', '600'], env: ['PATH=/bin'], cwd: '/' },
      root: { path: rootfs },
      mounts: [{ destination: '/proc', type: 'proc', source: 'proc' }],
      linux: {
        namespaces: [{ type: 'user' }, { type: 'mount' }, { type: 'pid' }],
        uidMappings: [{ containerID: 0, hostID: uid, size: 1 }],
        gidMappings: [{ containerID: 0, hostID: gid, size: 1 }],
        resources: { memory: { limit: 52428800 }, pids: { limit: 16 }, devices: [{ allow: false, access: 'rwm' }] },
        cgroupsPath: ':hutchoci:c1',
      },
    }),
  );
  const rtRoot = join(dir, 'rt');
  // The created process keeps the caller's stdio (runc's model): give it a file, not a pipe.
  const err = openSync(join(dir, 'rt.err'), 'w');
  const create = spawnSync(bin, ['runtime', '--root', rtRoot, '--systemd-cgroup', 'create', '--bundle', bundle, 'c1'], {
    stdio: ['ignore', 'ignore', err],
  });
  closeSync(err);
  assert.equal(create.status, 0, readFileSync(join(dir, 'rt.err'), 'utf8'));
  assert.equal(readFileSync(join(dir, 'rt.err'), 'utf8'), '', 'no warning: every limit is enforced');
  const record = JSON.parse(readFileSync(join(rtRoot, 'c1', 'state.json'), 'utf8')) as {
    pid: number;
    cgroup?: { path: string };
  };
  const path = record.cgroup?.path;
  assert.ok(path, 'the cgroup is recorded');
  assert.match(path, /\/hutchoci-c1\.scope\/container$/);
  assert.match(readFileSync(`/proc/${record.pid}/cgroup`, 'utf8'), /hutchoci-c1\.scope\/container\n/);
  assert.equal(readFileSync(join(path, 'memory.max'), 'utf8').trim(), '52428800');
  assert.equal(readFileSync(join(path, 'pids.max'), 'utf8').trim(), '16');
  const del = spawnSync(bin, ['runtime', '--root', rtRoot, 'delete', '--force', 'c1'], { encoding: 'utf8' });
  assert.equal(del.status, 0, del.stderr);
  assert.equal(existsSync(path), false);
});

/** How many pid namespaces a process is in (its NSpid: the container's are one deeper); 0 once gone. */
function nsDepth(pid: number | 'self'): number {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('NSpid:'));
    return (line ?? '').split(/\s+/).length - 1;
  } catch {
    return 0;
  }
}

/** The processes below `pid` (its children, theirs, ...), from /proc/PID/stat. */
function descendants(pid: number): { pid: number; comm: string }[] {
  const all: { pid: number; ppid: number; comm: string }[] = [];
  for (const name of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue; // gone
    }
    const close = stat.lastIndexOf(')');
    all.push({
      pid: Number(name),
      comm: stat.slice(stat.indexOf('(') + 1, close),
      ppid: Number(stat.slice(close + 2).split(' ')[1]),
    });
  }
  const found: { pid: number; comm: string }[] = [];
  for (let parents = new Set([pid]); parents.size > 0;) {
    const children = all.filter((p) => parents.has(p.ppid));
    found.push(...children);
    parents = new Set(children.map((p) => p.pid));
  }
  return found;
}

interface ForegroundRun {
  status: number | null;
  stdout: string;
  stderr: string;
  /** The container's cgroup while it ran (the scope's id as ID, a job's cgroup as JOB), and the CLI's. */
  cgroup: string;
  cli: string;
  /** The scope's properties, or the job's cgroups (each with its cgroup.subtree_control) while the container ran. */
  scope: string;
  /** The group's cgroup.subtree_control while the container ran. */
  subtree: string;
  /** The job's cgroups once the run ended (delegated). */
  after: string;
}

/**
 * Where the container is while it runs: `scope` in hutch-ID.scope/container; `none` in the CLI's
 * own cgroup (no cgroup of its own); `delegated` in SUBTREE/hutch-ID/container, SUBTREE the
 * delegated cgroup the CLI was started in (a job's, see inJob).
 */
type Placement = 'scope' | 'none' | 'delegated';

/** A cgroup's subtree below /sys/fs/cgroup/`cgroup`: each folder (relative) with its cgroup.subtree_control. */
function cgroupTree(cgroup: string): string {
  const top = join('/sys/fs/cgroup', cgroup);
  const folders = ['.', ...readdirSync(top, { recursive: true, encoding: 'utf8' }).filter((f) => !f.includes('.'))];
  return folders
    .filter((f) => f === '.' || existsSync(join(top, f, 'cgroup.procs')))
    .sort()
    .map((f) => `${f}: ${readFileSync(join(top, f, 'cgroup.subtree_control'), 'utf8').trim()}`)
    .join('\n');
}

/** `--root DIR/fg-root run --rm --network none --rootfs TREE sh -c SCRIPT`. */
function foregroundWords(tree: string, script: string): string[] {
  return ['--root', join(dir, 'fg-root'), 'run', '--rm', '--network', 'none', '--rootfs', tree, 'sh', '-c', script];
}

/**
 * `hutch run --rm --network none --rootfs TREE` of a command that says `up`, then waits for /go:
 * while it waits, where its processes are and what the scope is; then its end and the scope gone.
 */
async function foreground(
  argv: string[],
  env: NodeJS.ProcessEnv,
  tree: string,
  placement: Placement = 'scope',
): Promise<ForegroundRun> {
  const script = 'echo up; until [ -e /go ]; do sleep 0.1; done; cat /proc/self/cgroup; exit 7';
  const words = [...argv, ...foregroundWords(tree, script)];
  const child = spawn(words[0]!, words.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? (signal === null ? null : 128 + osConstants.signals[signal]))),
  );
  let seen: {
    scopeDir: string;
    unit: string;
    id: string;
    job: string;
    cgroup: string;
    scope: string;
    subtree: string;
    cli: string;
  };
  try {
    await until('the container to start', () => stdout.includes('up') || child.exitCode !== null, 120_000);
    assert.equal(child.exitCode, null, `the run ended early: ${stderr}`);
    const inside = descendants(child.pid!).filter((p) => nsDepth(p.pid) > nsDepth('self'));
    assert.ok(inside.length > 0, 'the container has processes');
    const cgroups = [...new Set(inside.map((p) => cgroupIfAlive(p.pid)).filter((c) => c !== undefined))];
    assert.equal(cgroups.length, 1, `the container's processes are in one cgroup: ${cgroups.join(' ')}`);
    const cli = cgroupOf(child.pid!);
    if (placement === 'scope') {
      const match = /^(.*\/(hutch-([0-9a-f]{64})\.scope))\/container$/.exec(cgroups[0]!);
      assert.ok(match, `the container is in hutch-ID.scope/container: ${cgroups[0]}`);
      const [, scopeDir, unit, id] = match as unknown as string[];
      const properties = ['Description', 'Delegate', 'CollectMode', 'Slice', 'ActiveState'].map((p) => `-p${p}`);
      seen = {
        scopeDir: scopeDir!,
        unit: unit!,
        id: id!,
        job: '',
        cgroup: cgroups[0]!,
        scope: execFileSync('systemctl', ['--user', 'show', ...properties, unit!], { encoding: 'utf8' }),
        subtree: readFileSync(join('/sys/fs/cgroup', scopeDir!, 'cgroup.subtree_control'), 'utf8'),
        cli,
      };
    } else if (placement === 'delegated') {
      const match = /^(.*)\/hutch-([0-9a-f]{64})\/container$/.exec(cgroups[0]!);
      assert.ok(match, `the container is in SUBTREE/hutch-ID/container: ${cgroups[0]}`);
      const [, job, id] = match as unknown as string[];
      seen = {
        scopeDir: `${job}/hutch-${id}`,
        unit: '',
        id: id!,
        job: job!,
        cgroup: cgroups[0]!,
        scope: cgroupTree(job!),
        subtree: readFileSync(join('/sys/fs/cgroup', job!, `hutch-${id}`, 'cgroup.subtree_control'), 'utf8'),
        cli,
      };
    } else {
      assert.equal(cgroups[0], cli, "no cgroup of its own: the container is in the CLI's");
      seen = { scopeDir: '', unit: '', id: '', job: '', cgroup: cgroups[0]!, scope: '', subtree: '', cli };
    }
  } finally {
    // Whatever failed above, the container ends on its own (a killed CLI would leave it waiting).
    writeFileSync(join(tree, 'go'), '');
  }
  const status = await exited;
  rmSync(join(tree, 'go'));
  const { scopeDir, unit, id, job } = seen;
  // The CLI removes hutch-ID itself; a scope the manager stops is gone a moment later.
  if (placement === 'delegated')
    assert.equal(existsSync(join('/sys/fs/cgroup', scopeDir)), false, `${scopeDir} is gone`);
  if (placement === 'scope') {
    await until('the scope to go', () => !existsSync(join('/sys/fs/cgroup', scopeDir)), 30_000);
    const state = spawnSync('systemctl', ['--user', 'show', '-pActiveState', '--value', unit], { encoding: 'utf8' });
    assert.notEqual(state.stdout.trim(), 'active', `${unit} is stopped`);
  }
  for (const folder of ['data/ephemeral', 'run/ephemeral', 'run/net']) {
    const path = join(dir, 'fg-root', folder);
    const left = existsSync(path) ? readdirSync(path, { recursive: true }) : [];
    assert.deepEqual(left, [], `nothing left in ${folder} (status ${status}: ${stderr})`);
  }
  const anon = (s: string): string => {
    const named = id === '' ? s : s.replaceAll(id, 'ID');
    return job === '' ? named : named.replaceAll(job, 'JOB');
  };
  return {
    status,
    stdout,
    stderr,
    cgroup: anon(seen.cgroup),
    cli: anon(seen.cli),
    scope: anon(seen.scope),
    subtree: seen.subtree,
    after: job === '' ? '' : anon(cgroupTree(job)),
  };
}

test('run --rm --rootfs through the C front: the container in hutch-ID.scope/container as on the TypeScript path; the scope gone after', async () => {
  const tree = join(dir, 'fg-rootfs');
  mkdirSync(join(tree, 'bin'), { recursive: true });
  for (const d of ['proc', 'dev', 'sys', 'tmp', 'etc']) mkdirSync(join(tree, d));
  copyFileSync(join(here, 'busybox'), join(tree, 'bin', 'busybox'));
  chmodSync(join(tree, 'bin', 'busybox'), 0o755);
  for (const applet of ['sh', 'sleep', 'cat', '[']) symlinkSync('busybox', join(tree, 'bin', applet));
  for (const [file, text] of Object.entries({
    hosts: '',
    hostname: '',
    'resolv.conf': '',
    passwd: 'root:x:0:0:root:/root:/bin/sh\n',
    group: 'root:x:0:\n',
  }))
    writeFileSync(join(tree, 'etc', file), text);
  // Nothing of this run's own: a HUTCH_ variable the front does not know would hand it over.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(HUTCH|CONTAINERS)_/.test(k)));
  // A first run on the TypeScript path: it probes the store (the front reads the probe, never makes
  // it) and says any once-only notice, so that the two runs compared are alike.
  const first = spawnSync('node', [bin, ...foregroundWords(tree, 'exit 0')], {
    env,
    encoding: 'utf8',
  });
  assert.equal(first.status, 0, first.stderr);
  const typescript = await foreground(['node', bin], env, tree);
  const front = await foreground([bin], { ...env, HUTCH_RUN_NO_NODE: '1' }, tree);
  console.log(JSON.stringify({ typescript, front }));
  assert.equal(front.status, 7, `the C front ran it (99: it would hand over): ${front.stderr}`);
  assert.deepEqual(front, typescript);
  assert.equal(front.stdout, 'up\n0::/\n', "the container's own cgroup namespace, rooted at its cgroup");
  assert.equal(front.stderr, '');
  assert.equal(front.cli, cgroupOf('self'), 'the foreground CLI stays where it was');
  assert.match(front.scope, /^Description=hutch container ID$/m);
  assert.match(front.scope, /^Delegate=yes$/m);
  // No user manager to ask (no bus, no private socket) and no cgroup delegated to the user (a
  // batch job, an ssh session without lingering): no cgroup of its own and no warning, in C as on
  // the TypeScript path.
  const runtime = join(dir, 'no-manager');
  mkdirSync(runtime, { mode: 0o700 });
  const noBus = {
    ...Object.fromEntries(Object.entries(env).filter(([k]) => k !== 'DBUS_SESSION_BUS_ADDRESS')),
    XDG_RUNTIME_DIR: runtime,
  };
  const bare = await foreground([bin], { ...noBus, HUTCH_RUN_NO_NODE: '1' }, tree, 'none');
  const bareTypescript = await foreground(['node', bin], noBus, tree, 'none');
  console.log(JSON.stringify({ bare, bareTypescript }));
  assert.equal(bare.status, 7, `the C front ran it (99: it would hand over): ${bare.stderr}`);
  assert.deepEqual(bare, bareTypescript);
  assert.equal(bare.stderr, '', 'no warning: no limit was asked');

  // A scope that fails once the container's process exists (a prefix drop-in's condition keeps
  // every hutch-*.scope from starting): the front undoes what it made and hands over; the
  // TypeScript path then runs it without a cgroup of its own, no limit asked, no warning.
  const dropIn = join(process.env.HOME!, '.config', 'systemd', 'user', 'hutch-.scope.d');
  mkdirSync(dropIn, { recursive: true });
  writeFileSync(join(dropIn, 'fail.conf'), '[Unit]\nConditionPathExists=/nonexistent-hutch-test\n');
  execFileSync('systemctl', ['--user', 'daemon-reload']);
  try {
    const words = foregroundWords(tree, 'echo ran');
    const undone = spawnSync(bin, words, {
      env: { ...env, HUTCH_RUN_NO_NODE: '1' },
      encoding: 'utf8',
    });
    assert.equal(undone.status, 99, undone.stderr);
    assert.match(undone.stderr, /systemd scope failed/);
    assert.equal(undone.stdout, '', 'the command never ran');
    for (const folder of ['data/ephemeral', 'run/ephemeral', 'run/net'])
      assert.deepEqual(readdirSync(join(dir, 'fg-root', folder)), [], `nothing left in ${folder}`);
    const handedOver = spawnSync(bin, words, { env, encoding: 'utf8' });
    const typescript = spawnSync('node', [bin, ...words], { env, encoding: 'utf8' });
    assert.deepEqual([handedOver.status, handedOver.stdout, handedOver.stderr], [0, 'ran\n', '']);
    assert.deepEqual([typescript.status, typescript.stdout, typescript.stderr], [0, 'ran\n', '']);
  } finally {
    rmSync(dropIn, { recursive: true, force: true });
    execFileSync('systemctl', ['--user', 'daemon-reload']);
  }
});

/**
 * The words that run `words` in a fresh cgroup /hutch-job-NAME which root made and gave to the user
 * (its folder, cgroup.procs, cgroup.subtree_control, cgroup.threads), as Slurm gives a job its
 * cgroup: the guest's hutch-guest-run moves the process there on request. `resident`: a job
 * process (sleep) there too; `plain`: the words run in its child plain/, which offers no controller
 * (the job enabled none); `locked`: the job has a hutch-init whose cgroup.procs the user cannot write;
 * `again`: as an earlier run left it, the job's shell in its hutch-init and its controllers enabled;
 * `full`: the words run in its child sub/, which offers the controllers and may hold one cgroup below.
 */
function inJob(
  name: string,
  kind: 'alone' | 'resident' | 'plain' | 'locked' | 'again' | 'full',
  words: string[],
): string[] {
  const script = [
    'job=/sys/fs/cgroup/hutch-job-$1 i=0',
    'echo "$$ $1" > /run/hutch-job/requests',
    'until grep -qx "0::/hutch-job-$1" /proc/self/cgroup; do i=$((i+1)); [ $i -lt 1000 ] || exit 98; sleep 0.01; done',
    'case $2 in',
    '  resident) sleep 600 & ;;',
    '  plain) mkdir "$job/plain" && echo $$ > "$job/plain/cgroup.procs" || exit 98 ;;',
    '  locked) mkdir "$job/hutch-init" && chmod 0444 "$job/hutch-init/cgroup.procs" || exit 98 ;;',
    '  again) mkdir "$job/hutch-init" && echo $$ > "$job/hutch-init/cgroup.procs" || exit 98',
    '    for c in $(cat "$job/cgroup.controllers"); do echo "+$c" > "$job/cgroup.subtree_control" || exit 98; done ;;',
    '  full) mkdir "$job/sub" && echo $$ > "$job/sub/cgroup.procs" && echo 1 > "$job/sub/cgroup.max.descendants" || exit 98',
    '    for c in $(cat "$job/cgroup.controllers"); do echo "+$c" > "$job/cgroup.subtree_control" || exit 98; done ;;',
    'esac',
    'shift 2',
    'exec "$@"',
  ].join('\n');
  return ['sh', '-c', script, 'job', name, kind, ...words];
}

/** Ends what a job left (its resident sleep, in hutch-init now) in the cgroups the user made there. */
function endJob(name: string): void {
  const job = join('/sys/fs/cgroup', `hutch-job-${name}`);
  for (const leaf of ['hutch-init', 'plain'])
    if (existsSync(join(job, leaf))) writeFileSync(join(job, leaf, 'cgroup.kill'), '1');
}

test('run --rm --rootfs in a job cgroup delegated by root (Slurm): the C front makes SUBTREE/hutch-ID/container as the TypeScript path, with and without a user manager, and hands over when it cannot', async () => {
  const tree = join(dir, 'fg-rootfs'); // made by the scope test above
  assert.ok(existsSync(tree), 'the scope test ran first');
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(HUTCH|CONTAINERS)_/.test(k)));
  const runtime = join(dir, 'no-manager-job');
  mkdirSync(runtime, { mode: 0o700 });
  const noBus = {
    ...Object.fromEntries(Object.entries(env).filter(([k]) => k !== 'DBUS_SESSION_BUS_ADDRESS')),
    XDG_RUNTIME_DIR: runtime,
  };
  const front = [bin];
  const typescript = ['node', bin];
  const cases = [
    { name: 'manager-resident', kind: 'resident', env },
    { name: 'manager-alone', kind: 'alone', env },
    { name: 'nomanager-resident', kind: 'resident', env: noBus },
    { name: 'nomanager-plain', kind: 'plain', env: noBus },
    { name: 'manager-again', kind: 'again', env },
  ] as const;
  for (const c of cases) {
    const runs: ForegroundRun[] = [];
    for (const [path, argv, extra] of [
      ['front', front, { HUTCH_RUN_NO_NODE: '1' }],
      ['ts', typescript, {}],
    ] as const) {
      const name = `${c.name}-${path}`;
      try {
        runs.push(await foreground(inJob(name, c.kind, argv), { ...c.env, ...extra }, tree, 'delegated'));
      } finally {
        endJob(name);
      }
    }
    const [byFront, byTypescript] = runs;
    console.log(JSON.stringify({ case: c.name, front: byFront, typescript: byTypescript }));
    assert.equal(byFront!.status, 7, `${c.name}: the C front ran it (99: it would hand over): ${byFront!.stderr}`);
    assert.deepEqual(byFront, byTypescript, c.name);
    assert.equal(byFront!.stderr, '', 'no warning');
    if (c.kind === 'plain') {
      // Nothing to enable (the job offers no controller to plain/): no process moved, no hutch-init.
      assert.equal(byFront!.cli, 'JOB');
      assert.equal(byFront!.after, '.: ');
    } else {
      // The job's processes (the CLI's own) to its leaf hutch-init, the controllers then enabled for its children.
      assert.equal(byFront!.cli, 'JOB/hutch-init');
      assert.match(byFront!.after, /^\.: .*memory.*\nhutch-init: $/);
      assert.match(byFront!.subtree, /memory pids/, 'hutch-ID hands its controllers to container/');
      // A later run of the job's script places from the job, not from hutch-init: no nesting.
      if (c.kind === 'again') assert.match(cgroupTree(`/hutch-job-${c.name}-front`), /^\.: .*memory.*\nhutch-init: $/);
    }
  }

  // A placing that fails once the container's process exists: a job whose hutch-init the user cannot
  // write (the first move refused), and one whose subtree may hold one cgroup only (hutch-init made,
  // the processes moved, the controllers enabled, hutch-ID refused). The front undoes (no hutch-ID,
  // nothing in the run's folders) and hands over; the TypeScript path, started in hutch-init or not,
  // says why as it says it alone.
  const failing = (kind: 'locked' | 'full', name: string, argv: string[], extra: NodeJS.ProcessEnv) => {
    const words = inJob(name, kind, [...argv, ...foregroundWords(tree, 'echo ran')]);
    const r = spawnSync(words[0]!, words.slice(1), { env: { ...env, ...extra }, encoding: 'utf8' });
    const job = join('/sys/fs/cgroup', `hutch-job-${name}`);
    const left = readdirSync(job, { recursive: true, encoding: 'utf8' }).filter((f) =>
      /(^|\/)hutch-[0-9a-f]{64}$/.test(f),
    );
    for (const folder of ['data/ephemeral', 'run/ephemeral', 'run/net'])
      assert.deepEqual(readdirSync(join(dir, 'fg-root', folder)), [], `${name}: nothing left in ${folder}`);
    const stderr = r.stderr
      .replace(/[0-9a-f]{64}/g, 'ID')
      .replace(/\d+/g, 'N')
      .replaceAll(name, 'NAME');
    return { status: r.status, stdout: r.stdout, stderr, left };
  };
  for (const kind of ['locked', 'full'] as const) {
    const undone = failing(kind, `${kind}-front`, front, { HUTCH_RUN_NO_NODE: '1' });
    assert.equal(undone.status, 99, undone.stderr);
    assert.match(undone.stderr, /cgroup in the delegated subtree failed/);
    assert.deepEqual([undone.stdout, undone.left], ['', []]);
    const handedOver = failing(kind, `${kind}-handover`, front, {});
    const alone = failing(kind, `${kind}-ts`, typescript, {});
    console.log(JSON.stringify({ kind, handedOver, alone }));
    assert.deepEqual(handedOver, alone);
    assert.notEqual(alone.status, 0);
    assert.equal(alone.stdout, '', 'the command never ran');
  }
});
