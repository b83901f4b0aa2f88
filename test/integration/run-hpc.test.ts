// The host's namespaces shared one by one (--pid/--ipc/--uts/--network host, --shm-size), the
// caller's environment (--env-host), keep-id's user and home, and --hpc, Apptainer's profile.
import { existsSync, mkdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { join } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { requires } from '../helpers/host.js';
import { containerTest } from '../helpers/container-test.js';

const t = containerTest();
const me = userInfo();
const ns = (type: string): string => readlinkSync(`/proc/self/ns/${type}`);
const NS_SCRIPT = 'for n in pid ipc uts net; do readlink /proc/self/ns/$n; done; hostname';

beforeAll(() => requires('userns', 'busybox'));

it('shares the host PID, IPC, UTS and network namespaces each on its own flag', async () => {
  const own = await t.sh(NS_SCRIPT, ['--network', 'none']);
  expect(own.stderr).toBe('');
  const [pid, ipc, uts, net] = String(own.stdout).split('\n');
  expect([pid, ipc, uts, net]).not.toContain(ns('pid'));
  expect([pid !== ns('pid'), ipc !== ns('ipc'), uts !== ns('uts'), net !== ns('net')]).toEqual([
    true,
    true,
    true,
    true,
  ]);
  for (const [flag, type] of [
    ['--pid', 'pid'],
    ['--ipc', 'ipc'],
    ['--uts', 'uts'],
    ['--network', 'net'],
  ] as const) {
    const r = await t.sh(NS_SCRIPT, [...(flag === '--network' ? [] : ['--network', 'none']), flag, 'host']);
    expect(r.stderr).toBe('');
    const lines = String(r.stdout).split('\n');
    const index = ['pid', 'ipc', 'uts', 'net'].indexOf(type);
    lines.slice(0, 4).forEach((line, i) => expect(line === ns(['pid', 'ipc', 'uts', 'net'][i]!)).toBe(i === index));
    if (type === 'uts') expect(lines[4]).toBe(hostname());
  }
});

it("--pid host sees the host's processes; --ipc host shares /dev/shm with the host", async () => {
  const r = await t.sh(`test -d /proc/${process.pid} && echo seen`, ['--network', 'none', '--pid', 'host']);
  expect([r.stderr, String(r.stdout)]).toEqual(['', 'seen']);
  const name = `hutch-hpc-test-${process.pid}`;
  try {
    const w = await t.sh(`echo shared > /dev/shm/${name}`, ['--network', 'none', '--ipc', 'host']);
    expect(w.stderr).toBe('');
    expect(existsSync(`/dev/shm/${name}`)).toBe(true);
  } finally {
    rmSync(`/dev/shm/${name}`, { force: true });
  }
});

it('--shm-size sizes /dev/shm; with --ipc host, or with --uts host and --hostname, it is an error', async () => {
  const r = await t.sh('grep " /dev/shm " /proc/mounts', ['--network', 'none', '--shm-size', '2m']);
  expect(r.stderr).toBe('');
  expect(String(r.stdout)).toContain('size=2048k');
  const both = await t.sh('true', ['--network', 'none', '--ipc', 'host', '--shm-size', '2m']);
  expect([both.exitCode, both.stderr]).toEqual([125, expect.stringContaining('cannot set --shm-size with --ipc host')]);
  const named = await t.sh('true', ['--network', 'none', '--uts', 'host', '--hostname', 'x']);
  expect(named.stderr).toContain('cannot set --hostname with --uts host');
  const bad = await t.sh('true', ['--network', 'none', '--pid', 'container:x']);
  expect(bad.stderr).toContain('invalid --pid container:x');
});

it("--env-host passes the caller's environment but the blocklist", async () => {
  const env = { ...process.env, HPC_TEST_VAR: 'a b', SLURM_JOB_ID: '42', HUTCH_SECRET: 's', SSH_AUTH_SOCK: '/x.sock' };
  const r = await t.sh('env | sort', ['--network', 'none', '--env-host', '-e', 'HPC_FLAG=1'], { env });
  expect(r.stderr).toBe('');
  const lines = String(r.stdout).split('\n');
  expect(lines).toEqual(expect.arrayContaining(['HPC_TEST_VAR=a b', 'SLURM_JOB_ID=42', 'HPC_FLAG=1', 'HOME=/root']));
  expect(lines.filter((l) => /^(HUTCH_SECRET|SSH_AUTH_SOCK)=/.test(l))).toEqual([]);
  expect(lines).toContain('PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
  const without = await t.sh('env', ['--network', 'none'], { env });
  expect(String(without.stdout)).not.toContain('HPC_TEST_VAR');
});

it("--userns keep-id: the user's home and their line in /etc/passwd and /etc/group", async () => {
  const r = await t.sh('echo $HOME; id -un; grep "^$(id -un):" /etc/passwd; cat /etc/group | grep -c ":$(id -g):"', [
    '--network',
    'none',
    '--userns',
    'keep-id',
  ]);
  expect(r.stderr).toBe('');
  expect(String(r.stdout).split('\n')).toEqual([
    me.homedir,
    me.username,
    `${me.username}:*:${me.uid}:${me.gid}:${me.username}:${me.homedir}:/bin/sh`,
    '1',
  ]);
});

/** A working directory for a --hpc test, with a file in it. */
function workdir(): string {
  const dir = join(t.box.dir, 'job');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'input'), 'in the cwd\n');
  return dir;
}

const MARK = `hutch-hpc-mark-${process.pid}`;
const HPC_SCRIPT =
  `id -u; echo $HOME; pwd; cat input; cat /tmp/${MARK}; echo \${SLURM_JOB_ID:-none} \${HPC_TEST_VAR:-none}; ` +
  'for n in pid ipc uts net; do readlink /proc/self/ns/$n; done';

async function hpcRun(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<string[]> {
  const cwd = workdir();
  writeFileSync(`/tmp/${MARK}`, 'in /tmp\n');
  try {
    const env = { ...process.env, SLURM_JOB_ID: '7', HPC_TEST_VAR: 'v', ...extraEnv };
    const r = await t.sh(HPC_SCRIPT, args, { cwd, env });
    expect(r.stderr).toBe('');
    const lines = String(r.stdout).split('\n');
    expect(lines.slice(0, 5)).toEqual([String(me.uid), me.homedir, cwd, 'in the cwd', 'in /tmp']);
    expect(lines.slice(6)).toEqual([ns('pid'), ns('ipc'), ns('uts'), ns('net')]);
    return lines;
  } finally {
    rmSync(`/tmp/${MARK}`, { force: true });
  }
}

it("--hpc: the user's uid, home, cwd and /tmp, the host's namespaces and environment; --cleanenv keeps the job's", async () => {
  expect((await hpcRun(['--hpc']))[5]).toBe('7 v');
  expect((await hpcRun(['--hpc', '--cleanenv']))[5]).toBe('7 none');
});

it('containers.conf [hutch] hpc = true makes --hpc the default; --no-hpc opts out', async () => {
  const conf = join(t.box.dir, 'containers.conf');
  writeFileSync(conf, '[hutch]\nhpc = true\n');
  expect((await hpcRun([], { CONTAINERS_CONF: conf }))[5]).toBe('7 v');
  const off = await t.sh('id -u', ['--no-hpc', '--network', 'none'], {
    env: { ...process.env, CONTAINERS_CONF: conf },
  });
  expect([off.stderr, String(off.stdout)]).toEqual(['', '0']);
});

it('--device binds a host device where it can be opened (not nodev); permissions it cannot enforce are refused', async () => {
  const r = await t.sh('head -c 4 /dev/z | wc -c; echo x > /dev/n && echo written', [
    '--network',
    'none',
    '--device',
    '/dev/zero:/dev/z',
    '--device',
    '/dev/null:/dev/n:rw',
  ]);
  expect([r.stderr, ...String(r.stdout).split('\n')]).toEqual(['', '4', 'written']);
  const narrowed = await t.sh('true', ['--network', 'none', '--device', '/dev/zero:r']);
  expect([narrowed.exitCode, narrowed.stderr]).toEqual([125, expect.stringContaining('cannot restrict --device')]);
  const missing = await t.sh('true', ['--network', 'none', '--device', '/dev/nope']);
  expect([missing.exitCode, missing.stderr]).toEqual([125, expect.stringContaining('cannot add --device /dev/nope')]);
});
