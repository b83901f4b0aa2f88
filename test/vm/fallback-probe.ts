// Run by cgroups-vm.ts inside `systemd-run --user --scope -p Delegate=yes`: a cgroup already
// delegated to this process, as in a Slurm job step. It uses that subtree directly
// (--cgroup-manager=cgroupfs), OOM-kills a 200 MB allocation under --memory 50m, and prints
// what it saw as one JSON line for the test to check.
import { Cleanup } from '../../src/sys/cleanup.js';
import { createContainerCgroup } from '../../src/cgroups/cgroup.js';
import { resourcesFromFlags } from '../../src/cgroups/flags.js';
import { cgroupOf, collector, held, newId } from './held.js';

const cleanup = new Cleanup();
const before = cgroupOf('self');
const p = held(['dd', 'if=/dev/zero', 'of=/dev/null', 'bs=200M', 'count=1']);
cleanup.add('child', () => p.child.kill('SIGKILL'));
const { lines, warn } = collector();
const resources = resourcesFromFlags({ memory: '50m', memorySwap: '50m' });
const h = await createContainerCgroup(
  { id: newId(), pid: p.pid, monitorPid: process.pid, manager: 'cgroupfs', resources, warn },
  cleanup,
);
const placement = { container: cgroupOf(p.pid), supervisor: cgroupOf('self') };
p.go();
const end = await p.exited;
const report = {
  before,
  ...placement,
  manager: h?.manager,
  signal: end.signal,
  oomKilled: h?.oomKilled(),
  warnings: lines,
};
await cleanup.release();
process.stdout.write(JSON.stringify(report) + '\n');
