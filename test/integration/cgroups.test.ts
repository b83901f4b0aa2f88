// On this host (hybrid cgroups: memory, cpu, pids bound to v1; PID 1 not systemd; no user
// manager for the test user), no limit can be enforced. What must hold: one honest warning
// naming what is not enforced and how to fix it, --cgroups=disabled silent, and
// --cgroups=required failing cleanly. Enforcement is proven in the VM (test/vm/cgroups-vm.ts).
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { Cleanup } from '../../src/sys/cleanup.js';
import { createContainerCgroup } from '../../src/cgroups/cgroup.js';
import { detectHost } from '../../src/cgroups/detect.js';
import { resourcesFromFlags } from '../../src/cgroups/flags.js';
import { cgroupReport, formatCgroupReport } from '../../src/cgroups/info.js';

const host = detectHost();
const children: { kill(signal: NodeJS.Signals): boolean }[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

function sleeper(): number {
  const child = spawn('sleep', ['100'], { stdio: 'ignore' });
  children.push(child);
  return child.pid!;
}

// Tests get a fresh environment with no user bus, whatever the caller's session has.
const env = { PATH: process.env.PATH, XDG_RUNTIME_DIR: undefined };

describe('cgroups on a host that cannot enforce limits', () => {
  it('is a host without a usable cgroup v2 subtree for the test user', () => {
    expect(['hybrid', 'legacy', 'unified']).toContain(host.layout);
  });

  it('warns once, naming the flags not enforced and the fix, and runs without a cgroup', async () => {
    const lines: string[] = [];
    const cleanup = new Cleanup();
    const resources = resourcesFromFlags({ memory: '50m', pidsLimit: '16', cpus: '0.2' });
    const handle = await createContainerCgroup(
      { id: 'hosttest', pid: sleeper(), resources, env, warn: (l) => lines.push(l) },
      cleanup,
    );
    expect(handle).toBeUndefined();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^not enforced: --memory, --cpus, --pids-limit: /);
    if (host.layout === 'hybrid') {
      expect(lines[0]).toMatchInlineSnapshot(
        `"not enforced: --memory, --cpus, --pids-limit: this host runs cgroup v1 (hybrid) and hutch enforces limits only through a delegated cgroup v2 subtree; an administrator enables cgroup v2 by booting with systemd.unified_cgroup_hierarchy=1"`,
      );
    }
    expect(await cleanup.release()).toEqual([]);
  });

  it('stays silent when no limit is asked; --cgroups=required still refuses', async () => {
    const lines: string[] = [];
    expect(
      await createContainerCgroup({ id: 'hosttest', pid: sleeper(), env, warn: (l) => lines.push(l) }, new Cleanup()),
    ).toBeUndefined();
    expect(lines).toEqual([]);
    await expect(
      createContainerCgroup({ id: 'hosttest', pid: sleeper(), env, mode: 'required' }, new Cleanup()),
    ).rejects.toThrow(/^cannot give the container a cgroup \(--cgroups=required\): /);
  });

  it('--cgroups=disabled: no cgroup and no warning; limits with it are refused', async () => {
    const lines: string[] = [];
    const none = await createContainerCgroup(
      { id: 'hosttest', pid: sleeper(), mode: 'disabled', env, warn: (l) => lines.push(l) },
      new Cleanup(),
    );
    expect(none).toBeUndefined();
    expect(lines).toEqual([]);
    const resources = resourcesFromFlags({ memory: '50m' });
    await expect(
      createContainerCgroup({ id: 'hosttest', pid: sleeper(), mode: 'disabled', resources, env }, new Cleanup()),
    ).rejects.toMatchObject({
      code: 'CGROUP_DISABLED_WITH_LIMITS',
      message: 'cannot set resource limits with --cgroups=disabled',
    });
  });

  it('--cgroups=required fails cleanly with the reason and the fix, leaving the process alone', async () => {
    const pid = sleeper();
    const resources = resourcesFromFlags({ memory: '50m' });
    const cleanup = new Cleanup();
    const failure = createContainerCgroup({ id: 'hosttest', pid, resources, mode: 'required', env }, cleanup);
    await expect(failure).rejects.toMatchObject({ code: 'CGROUP_REQUIRED', exitCode: 125 });
    const error = (await failure.catch((e: unknown) => e)) as { message: string; hint: string };
    expect(error.message).toMatch(/^cannot enforce --memory \(--cgroups=required\): /);
    expect(error.hint.length).toBeGreaterThan(0);
    expect(await cleanup.release()).toEqual([]);
    expect(() => process.kill(pid, 0)).not.toThrow();
  });

  it('system info reports the version, the manager and what is not enforced', async () => {
    const report = await cgroupReport(env);
    const lines = formatCgroupReport(report);
    expect(lines[0]).toMatch(/^cgroupVersion: v[12]/);
    if (host.layout === 'hybrid') {
      expect(report).toMatchObject({ version: 'v1', layout: 'hybrid', manager: 'none', delegatedControllers: [] });
      expect(lines).toContain('cgroupNotEnforced: [cpu, cpuset, io, memory, pids]');
    }
  });
});
