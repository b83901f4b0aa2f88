// The cgroup plumbing suite on this host, against a real `systemd --user` reached over D-Bus
// (scripts/testbed/user-manager.sh, started by scripts/test-cgroups-vm.sh).
// The host's controllers are bound to cgroup v1, so nothing is enforced here: this proves the
// scope, the placement, freeze, kill, removal, the warnings, the required mode and the
// delegated-subtree fallback. Enforcement is proven in the VM (cgroups-vm.ts).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { Cleanup } from '../../src/sys/cleanup.js';
import { cgroupHook, createContainerCgroup, type CgroupHandle } from '../../src/cgroups/cgroup.js';
import { parseCgroupsPath, resourcesFromFlags } from '../../src/cgroups/flags.js';
import { allProcs, readKeyed } from '../../src/cgroups/fs2.js';
import { cgroupReport, formatCgroupReport } from '../../src/cgroups/info.js';
import { userManagerSockets } from '../../src/cgroups/detect.js';
import { connectUserManager } from '../../src/cgroups/systemd.js';
import { cgroupOf, collector, eventually, held } from './held.js';

const cleanup = new Cleanup();
after(() => cleanup.release());
let n = 0;
const id = (): string => `usermgr${process.pid}x${n++}`;

test('system info sees cgroup v2, the user manager, the delegated subtree, and no controller', async () => {
  const report = await cgroupReport();
  console.log(formatCgroupReport(report).join('\n'));
  assert.equal(report.version, 'v2');
  assert.equal(report.userManager.reachable, true);
  // this session's cgroup is the user's own and outside user@.service, as a Slurm job's would be
  assert.equal(report.manager, 'cgroupfs');
  assert.deepEqual(report.missingControllers, ['cpu', 'cpuset', 'io', 'memory', 'pids']);
});

test('the manager answers on the bus and on its private socket, and without XDG_RUNTIME_DIR', () => {
  const sockets = userManagerSockets();
  assert.ok(sockets.bus && sockets.privateSocket);
  for (const only of [
    { ...sockets, privateSocket: undefined },
    { ...sockets, bus: undefined },
    userManagerSockets({ PATH: '/usr/bin' }),
  ]) {
    const manager = connectUserManager(only);
    assert.match(manager.controlGroup, /user@\d+\.service$/);
    manager.bus.close();
  }
});

test('by default, inside a cgroup delegated by someone else (as a Slurm job step), hutch stays in it', async () => {
  const own = cgroupOf('self');
  const p = held(['sleep', '1000']);
  cleanup.add('child', () => p.child.kill('SIGKILL'));
  const h = await createContainerCgroup(
    { id: id(), pid: p.pid, monitorPid: process.pid, warn: () => undefined },
    cleanup,
  );
  assert.ok(h);
  assert.equal(h.manager, 'cgroupfs', `own cgroup ${own} is writable and outside the user manager's tree`);
  assert.equal(cgroupOf(p.pid), `${own}/${h.group.split('/').pop()}/container`);
  await h.remove();
  assert.equal((await p.exited).signal, 'SIGKILL');
});

test('a D-Bus scope with Delegate=yes: placement, warning, freeze, kill after a double fork, removal', async () => {
  const p = held(['dash', '-c', '(sleep 1000 &); exec sleep 1000']);
  cleanup.add('child', () => p.child.kill('SIGKILL'));
  const { lines, warn } = collector();
  const resources = resourcesFromFlags({ memory: '64m', pidsLimit: '10' });
  const h = await createContainerCgroup(
    { id: id(), pid: p.pid, monitorPid: process.pid, resources, manager: 'systemd', warn },
    cleanup,
  );
  assert.ok(h);
  assert.equal(h.manager, 'systemd');
  assert.deepEqual(h.controllers, []);
  assert.match(cgroupOf(p.pid), /\/hutch-usermgr\w+\.scope\/container$/);
  assert.equal(cgroupOf('self'), cgroupOf(p.pid).replace(/container$/, 'supervisor'));
  assert.equal(lines.length, 1);
  assert.match(
    lines[0]!,
    /^not enforced: --memory, --pids-limit: the memory, pids controllers are not delegated to your user; an administrator delegates them with: .*user@\.service\.d\/delegate\.conf/,
  );

  p.go();
  assert.ok(await eventually(() => allProcs(h.path).length === 2));
  await h.freeze();
  assert.equal(readKeyed(h.path, 'cgroup.events').get('frozen'), 1);
  await h.thaw();
  await h.kill();
  assert.deepEqual(allProcs(h.path), []);
  assert.equal((await p.exited).signal, 'SIGKILL');
  assert.ok((h.stats().cpu.usageUsec ?? -1) >= 0);
  const group = h.group;
  await h.remove();
  assert.ok(existsSync(group), 'the scope stays while this process (the monitor) is in it');
});

test('--cgroups=required turns the warning into an error, and leaves no container cgroup', async () => {
  const p = held(['sleep', '1000']);
  cleanup.add('child', () => p.child.kill('SIGKILL'));
  const local = new Cleanup();
  const resources = resourcesFromFlags({ memory: '64m' });
  await assert.rejects(
    createContainerCgroup({ id: id(), pid: p.pid, resources, mode: 'required' }, local),
    (e: { code: string; message: string; hint: string }) => {
      assert.equal(e.code, 'CGROUP_REQUIRED');
      assert.match(
        e.message,
        /^cannot enforce --memory \(--cgroups=required\): the memory controller is not delegated to your user$/,
      );
      assert.match(e.hint, /Delegate=cpu cpuset io memory pids/);
      return true;
    },
  );
  assert.equal((await p.exited).signal, 'SIGKILL', 'the container was killed with its cgroup');
  await local.release();
});

test('--cgroups=disabled: no cgroup, no warning; limits with it are a usage error', async () => {
  const p = held(['sleep', '1000']);
  cleanup.add('child', () => p.child.kill('SIGKILL'));
  const { lines, warn } = collector();
  assert.equal(await createContainerCgroup({ id: id(), pid: p.pid, mode: 'disabled', warn }, cleanup), undefined);
  assert.deepEqual(lines, []);
  const resources = resourcesFromFlags({ memory: '64m' });
  await assert.rejects(createContainerCgroup({ id: id(), pid: p.pid, mode: 'disabled', resources }, cleanup), {
    code: 'CGROUP_DISABLED_WITH_LIMITS',
  });
});

test('fallback: a subtree already delegated to this process (--cgroup-manager=cgroupfs)', async () => {
  const own = cgroupOf('self');
  const p = held(['sleep', '1000']);
  cleanup.add('child', () => p.child.kill('SIGKILL'));
  const { warn } = collector();
  const h = await createContainerCgroup(
    { id: id(), pid: p.pid, monitorPid: process.pid, manager: 'cgroupfs', warn },
    cleanup,
  );
  assert.ok(h);
  assert.equal(h.manager, 'cgroupfs');
  assert.match(cgroupOf(p.pid), /\/hutch-usermgr\w+\/container$/);
  assert.equal(cgroupOf('self'), cgroupOf(p.pid).replace(/container$/, 'supervisor'));
  assert.ok(cgroupOf(p.pid).startsWith(own.replace(/\/hutch-init$/, '')));
  await h.remove();
  assert.equal((await p.exited).signal, 'SIGKILL');
  assert.ok(existsSync(h.group), 'the group stays while this process is in supervisor/');
});

test('the launch hook, named from an OCI cgroupsPath (slice:prefix:name)', async () => {
  const p = held(['sleep', '1000']);
  cleanup.add('child', () => p.child.kill('SIGKILL'));
  let handle: CgroupHandle | undefined;
  const hook = cgroupHook(
    { id: id(), ...parseCgroupsPath(`hutchoci.slice:oci:${id()}`, true) },
    cleanup,
    (h) => (handle = h),
  );
  await hook(p.pid);
  assert.ok(handle);
  assert.match(cgroupOf(p.pid), /\/hutchoci\.slice\/oci-usermgr\w+\.scope\/container$/);
  assert.equal(handle.unit, `${cgroupOf(p.pid).split('/').slice(-2)[0]}`);
  await handle.remove();
  assert.equal((await p.exited).signal, 'SIGKILL');
  assert.ok(await eventually(() => !existsSync(handle!.group)), 'the empty scope is stopped');
});
