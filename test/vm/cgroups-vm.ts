// The cgroup suite that proves enforcement: it runs inside the test guest (systemd as PID 1,
// pure cgroup v2, a real `systemd --user`) as the unprivileged user, through
// scripts/test-cgroups-vm.sh. Each test asks the user manager for a scope over D-Bus, puts a
// held child in <scope>/container and this process in <scope>/supervisor, then checks the kernel.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { Cleanup } from '../../src/sys/cleanup.js';
import { createContainerCgroup, type CgroupHandle, type ContainerCgroupOptions } from '../../src/cgroups/cgroup.js';
import { resourcesFromFlags, type ResourceFlags } from '../../src/cgroups/flags.js';
import { readKeyed, allProcs } from '../../src/cgroups/fs2.js';
import { renderStatsTable, statsRow } from '../../src/cgroups/stats.js';
import { cgroupReport } from '../../src/cgroups/info.js';
import { blockDevice } from '../../src/cgroups/detect.js';
import { cgroupIfAlive, cgroupOf, collector, eventually, held, newId, type Held } from './held.js';

const cleanups: Cleanup[] = [];
after(async () => {
  for (const c of cleanups) await c.release();
});

async function contained(
  flags: ResourceFlags,
  command: string[],
  extra: Partial<ContainerCgroupOptions> = { monitorPid: process.pid },
): Promise<{ h: CgroupHandle; p: Held; warnings: string[] }> {
  const cleanup = new Cleanup();
  cleanups.push(cleanup);
  const p = held(command);
  cleanup.add('child', () => p.child.kill('SIGKILL'));
  const { lines, warn } = collector();
  const t0 = performance.now();
  const h = await createContainerCgroup(
    { id: newId(), pid: p.pid, resources: resourcesFromFlags(flags, blockDevice), warn, ...extra },
    cleanup,
  );
  console.log(`createContainerCgroup (${h?.manager}): ${(performance.now() - t0).toFixed(1)} ms`);
  assert.ok(h, 'a cgroup was created');
  return { h, p, warnings: lines };
}

function usage(h: CgroupHandle): number {
  return readKeyed(h.path, 'cpu.stat').get('usage_usec') ?? 0;
}

async function cpuPercent(h: CgroupHandle, seconds: number): Promise<number> {
  const u0 = usage(h);
  const t0 = process.hrtime.bigint();
  await sleep(seconds * 1000);
  const u1 = usage(h);
  const wallUsec = Number(process.hrtime.bigint() - t0) / 1000;
  return ((u1 - u0) / wallUsec) * 100;
}

test('system info: cgroup v2, the user manager, delegated controllers', async () => {
  const report = await cgroupReport();
  console.log(JSON.stringify(report));
  assert.equal(report.version, 'v2');
  assert.equal(report.manager, 'systemd');
  for (const c of ['memory', 'pids', 'cpu']) assert.ok(report.delegatedControllers.includes(c), `${c} delegated`);
});

test('--memory 50m: a 200 MB allocation is OOM-killed and reported', async () => {
  const { h, p, warnings } = await contained({ memory: '50m', memorySwap: '50m' }, [
    'dd',
    'if=/dev/zero',
    'of=/dev/null',
    'bs=200M',
    'count=1',
  ]);
  assert.deepEqual(warnings, []);
  for (const c of ['cpu', 'io', 'memory', 'pids']) assert.ok(h.controllers.includes(c), `${c} enabled`);
  // placement, from /proc: the container in <scope>/container, this process (the monitor) in <scope>/supervisor
  assert.match(cgroupOf(p.pid), /\/hutch-[0-9a-f]+\.scope\/container$/);
  assert.equal(cgroupOf('self'), cgroupOf(p.pid).replace(/container$/, 'supervisor'));
  assert.equal(readFileSync(join(h.path, 'memory.max'), 'utf8').trim(), String(50 * 1024 * 1024));
  assert.equal(h.oomKilled(), false);
  p.go();
  const end = await p.exited;
  assert.equal(end.signal, 'SIGKILL');
  assert.equal(h.oomKilled(), true);
  assert.ok(h.stats().oomKill >= 1);
  await h.remove();
});

test('--pids-limit 16: the 17th process is refused', async () => {
  const loop = 'i=0; while [ $i -lt 40 ]; do sleep 30 & i=$((i+1)); done; wait';
  const { h, p } = await contained({ pidsLimit: '16' }, ['dash', '-c', loop]);
  assert.equal(readFileSync(join(h.path, 'pids.max'), 'utf8').trim(), '16');
  p.go();
  const end = await p.exited;
  assert.notEqual(end.code, 0, 'the shell failed to fork');
  assert.ok((readKeyed(h.path, 'pids.events').get('max') ?? 0) >= 1, 'pids.events max counts refused forks');
  assert.equal(readFileSync(join(h.path, 'pids.peak'), 'utf8').trim(), '16');
  assert.ok(allProcs(h.path).length <= 16);
  await h.remove();
});

test('--cpus 0.2 holds a busy loop near 20%; update raises it live; freeze and thaw', async () => {
  const { h, p } = await contained({ cpus: '0.2' }, ['dash', '-c', 'while :; do :; done']);
  p.go();
  await sleep(500);
  const limited = await cpuPercent(h, 3);
  console.log(`busy loop under cpu.max 20000 100000: ${limited.toFixed(1)}% of a CPU`);
  assert.ok(limited > 5 && limited < 30, `near 20%: ${limited}`);
  assert.ok((readKeyed(h.path, 'cpu.stat').get('nr_throttled') ?? 0) >= 1);

  h.update(resourcesFromFlags({ cpus: '0.6', pidsLimit: '8' }));
  assert.equal(readFileSync(join(h.path, 'cpu.max'), 'utf8').trim(), '60000 100000');
  assert.equal(readFileSync(join(h.path, 'pids.max'), 'utf8').trim(), '8');
  const raised = await cpuPercent(h, 3);
  console.log(`after update to cpu.max 60000 100000: ${raised.toFixed(1)}% of a CPU`);
  assert.ok(raised > limited + 10, `raised: ${raised} vs ${limited}`);

  await h.freeze();
  assert.equal(readKeyed(h.path, 'cgroup.events').get('frozen'), 1);
  const frozen = await cpuPercent(h, 1);
  assert.ok(frozen < 2, `no cpu while frozen: ${frozen}`);
  await h.thaw();
  assert.equal(readKeyed(h.path, 'cgroup.events').get('frozen'), 0);
  assert.ok(await eventually(() => usage(h) > 0 && h.stats().frozen === false));

  const stats = h.stats();
  assert.ok((stats.cpu.usageUsec ?? 0) > 0 && (stats.memory.current ?? 0) > 0 && stats.pids.current === 1);
  const row = statsRow({
    id: 'abc',
    name: 'busy',
    stats,
    at: Date.now(),
    startedAt: Date.now() - 8000,
    hostMemory: 2 ** 31,
  });
  console.log(renderStatsTable([row]));
  assert.equal(row.pids, '1');
  await h.remove();
  assert.equal((await p.exited).signal, 'SIGKILL');
});

test('kill reaches a double-forked process; remove leaves no scope', async () => {
  // no monitor in this scope, so it is empty after the kill and systemd can stop it
  const { h, p } = await contained({}, ['dash', '-c', '(sleep 1000 &); exec sleep 1000'], {
    parent: 'hutchtest.slice',
  });
  assert.match(
    cgroupOf(p.pid),
    /\/hutchtest\.slice\/hutch-[0-9a-f]+\.scope\/container$/,
    '--cgroup-parent names the slice',
  );
  p.go();
  assert.ok(await eventually(() => allProcs(h.path).length === 2), 'both sleeps are in the container cgroup');
  const escaped = allProcs(h.path).filter((pid) => pid !== p.pid);
  await h.kill();
  assert.deepEqual(allProcs(h.path), []);
  assert.ok(await eventually(() => escaped.every((pid) => !(cgroupIfAlive(pid) ?? '').includes('hutch-'))));
  await h.remove();
  assert.ok(await eventually(() => !existsSync(h.group)), 'the scope is gone');
});

// user-mode-linux has one CPU and no cpuset; the qemu guest (2 vCPUs) delegates it.
const cpuset = (await cgroupReport()).delegatedControllers.includes('cpuset');

test(
  '--cpuset-cpus 1 pins the container to CPU 1',
  { skip: !cpuset && 'cpuset is not offered in this guest' },
  async () => {
    const { h, p } = await contained({ cpusetCpus: '1' }, ['dash', '-c', 'while :; do :; done'], {});
    p.go();
    assert.equal(readFileSync(join(h.path, 'cpuset.cpus.effective'), 'utf8').trim(), '1');
    assert.ok(await eventually(() => /Cpus_allowed_list:\s+1\n/.test(readFileSync(`/proc/${p.pid}/status`, 'utf8'))));
    await h.remove();
  },
);

test(
  'a controller not delegated (cpuset here) warns, and --cgroups=required refuses',
  { skip: cpuset && 'cpuset is delegated in this guest' },
  async () => {
    const { h, warnings } = await contained({ cpusetCpus: '0', memory: '64m' }, ['sleep', '1000']);
    assert.equal(warnings.length, 1);
    assert.match(
      warnings[0]!,
      /^not enforced: --cpuset-cpus: the cpuset controller is not delegated to your user; an administrator delegates them with: .*Delegate=cpu cpuset io memory pids/,
    );
    assert.equal(readFileSync(join(h.path, 'memory.max'), 'utf8').trim(), String(64 * 1024 * 1024));
    await h.remove();

    const cleanup = new Cleanup();
    const p = held(['sleep', '1000']);
    const resources = resourcesFromFlags({ cpusetCpus: '0' });
    await assert.rejects(createContainerCgroup({ id: newId(), pid: p.pid, resources, mode: 'required' }, cleanup), {
      code: 'CGROUP_REQUIRED',
    });
    p.child.kill('SIGKILL');
    await cleanup.release();
  },
);

test('fallback: inside a cgroup already delegated to it (a Slurm-like job), hutch uses it directly', () => {
  const probe = join(dirname(fileURLToPath(import.meta.url)), 'fallback-probe.js');
  const run = spawnSync(
    'systemd-run',
    ['--user', '--scope', '--quiet', '-p', 'Delegate=yes', process.execPath, probe],
    { encoding: 'utf8' },
  );
  assert.equal(run.status, 0, run.stderr);
  const report = JSON.parse(run.stdout.trim().split('\n').pop()!);
  console.log(JSON.stringify(report));
  assert.equal(report.manager, 'cgroupfs');
  assert.match(report.before, /\/run-[\w-]+\.scope$/);
  assert.equal(report.container, `${report.before}/${report.container.split('/').slice(-2).join('/')}`);
  assert.match(report.container, /\/hutch-[0-9a-f]+\/container$/);
  assert.equal(report.supervisor, report.container.replace(/container$/, 'supervisor'));
  assert.equal(report.signal, 'SIGKILL');
  assert.equal(report.oomKilled, true);
  assert.deepEqual(report.warnings, []);
});

test('--device-write-bps, --device-read-iops and --blkio-weight reach io.max and io.weight', async () => {
  const disk = existsSync('/dev/ubda') ? '/dev/ubda' : '/dev/vda';
  const flags = { deviceWriteBps: [`${disk}:1mb`], deviceReadIops: [`${disk}:500`], blkioWeight: '300' };
  const { h, warnings } = await contained(flags, ['sleep', '1000'], {});
  const { major, minor } = blockDevice(disk);
  assert.equal(
    readFileSync(join(h.path, 'io.max'), 'utf8').trim(),
    `${major}:${minor} rbps=max wbps=1048576 riops=500 wiops=max`,
  );
  console.log(`io.weight: ${existsSync(join(h.path, 'io.weight')) ? 'written' : 'absent in this kernel: warned'}`);
  if (existsSync(join(h.path, 'io.weight')))
    assert.match(readFileSync(join(h.path, 'io.weight'), 'utf8'), /default 2930/);
  else assert.match(warnings.join('\n'), /not enforced: --blkio-weight: the kernel offers no io.weight/);
  await h.remove();
});
