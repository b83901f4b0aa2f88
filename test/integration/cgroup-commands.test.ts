// pause, unpause, update and stats on this host, where hutch gets no cgroup of its own (hybrid
// cgroups, no user manager): clear errors for pause and update, and stats from /proc (pids,
// CPU time, memory, net io). Their enforcing paths run in the VM (test/vm/cgroup-commands.ts).
import { describe, expect, it } from 'vitest';
import { hutch, type Sandbox } from '../helpers/hutch-cli.js';
import { useContainerSandbox } from '../helpers/frames.js';

let box: Sandbox;
let rootfs: string;
const h = (...args: string[]) => hutch([args[0]!, '--root', box.root, ...args.slice(1)]);

useContainerSandbox((b, r) => ((box = b), (rootfs = r)));

describe('cgroup commands without a cgroup', () => {
  it('pause and update fail naming the cause; stats shows pids, memory and net io from /proc; rm -f ends it', async () => {
    const run = await h(
      'run',
      '-d',
      '--name',
      'busy',
      '--network',
      'none',
      '--rootfs',
      rootfs,
      '--',
      'sh',
      '-c',
      'sleep 1000 & sleep 1000 & wait',
    );
    expect(run.exitCode).toBe(0);
    const pause = await h('pause', 'busy');
    expect(pause.exitCode).toBe(125);
    expect(pause.stderr).toMatchInlineSnapshot(`
      "hutch: cannot pause container busy: it has no cgroup of its own, so it has no freezer
      hint: this needs a delegated cgroup v2 subtree (a systemd user session, or \`loginctl enable-linger\`); \`hutch system info\` shows what this host gives"
    `);
    const unpause = await h('unpause', 'busy');
    expect(unpause.exitCode).toBe(125);
    expect(String(unpause.stderr)).toMatch(/^hutch: cannot unpause container busy: it is running/);
    const update = await h('update', '--memory', '64m', 'busy');
    expect(update.exitCode).toBe(125);
    expect(String(update.stderr)).toMatch(
      /^hutch: cannot update container busy: it has no cgroup of its own, so its limits cannot change\nhint: /,
    );
    expect((await h('update', 'busy')).stderr).toMatch(/^hutch: cannot update: no limit given/);
    const table = await h('stats', '--no-stream');
    expect(table.exitCode).toBe(0);
    const [head, row] = String(table.stdout).split('\n');
    expect(head).toMatch(
      /^ID\s+NAME\s+CPU %\s+MEM USAGE \/ LIMIT\s+MEM %\s+NET IO\s+BLOCK IO\s+PIDS\s+CPU TIME\s+AVG CPU %$/,
    );
    expect(row).toMatch(/\bbusy\b/);
    const [json] = JSON.parse(String((await h('stats', '--no-stream', '--format', 'json', 'busy')).stdout));
    expect(json).toMatchObject({ name: 'busy', pids: '3', net_io: '0B / 0B' }); // sh and its two sleeps
    expect(json.mem_usage).toMatch(/^\d[\d.]*[kM]B \/ \d/);
    expect((await h('rm', '-f', 'busy')).exitCode).toBe(0);
  });
});
