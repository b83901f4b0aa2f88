// The user's container lifecycle: run -d under a monitor, ps, logs, exec, stop, rm, and the
// monitor's death, as the unprivileged test user with real namespaces.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hutch, type Sandbox } from '../helpers/hutch-cli.js';
import { useContainerSandbox } from '../helpers/frames.js';
import { processTree } from '../helpers/process-tree.js';

let box: Sandbox;
let rootfs: string;
const h = (...args: string[]) => hutch([args[0]!, '--root', box.root, ...args.slice(1)]);
const runD = (args: string[], cmd: string[]) => h('run', '-d', '--rootfs', rootfs, ...args, '--', ...cmd);
const inspect = async (name: string) => JSON.parse(String((await h('inspect', name)).stdout))[0];

useContainerSandbox((b, r) => ((box = b), (rootfs = r)));

describe('a detached container', () => {
  it('is listed by ps, logs stdout and stderr apart, takes exec, stops with SIGKILL after -t, and rm leaves nothing', async () => {
    const run = await runD(['--name', 'web'], ['sh', '-c', 'echo hello; echo oops >&2; exec sleep 1000']);
    expect(run.stderr).toBe('');
    expect(run.exitCode).toBe(0);
    const id = String(run.stdout).trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    const ps = await h('ps');
    expect(String(ps.stdout).split('\n')[0]).toMatch(
      /^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES$/,
    );
    expect(String(ps.stdout)).toMatch(new RegExp(`${id.slice(0, 12)}.*Up .*web`));
    const exec = await h('exec', 'web', 'cat', '/proc/1/cmdline');
    expect(exec.exitCode).toBe(0);
    expect(String(exec.stdout).split('\0').filter(Boolean)).toEqual(['sleep', '1000']);
    const plain = await h('logs', 'web');
    expect([plain.stdout, plain.stderr]).toEqual(['hello', 'oops']);
    const stamped = await h('logs', '-t', 'web');
    expect(String(stamped.stdout)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z hello$/);
    const stop = await h('stop', '-t', '1', 'web'); // sleep as PID 1 ignores SIGTERM: SIGKILL after 1 s
    expect(stop.exitCode).toBe(0);
    const state = await inspect('web');
    expect(state.State).toMatchObject({ Status: 'exited', ExitCode: 137, Running: false });
    expect(String((await h('ps', '-a')).stdout)).toMatch(/Exited \(137\) .* ago\s+web/);
    expect((await h('logs', 'web')).stdout).toBe('hello'); // the log outlives the container
    expect((await h('rm', 'web')).exitCode).toBe(0);
    expect((await h('ps', '-a', '-q')).stdout).toBe('');
  });

  it('follows logs until the container ends, with --tail; wait prints the exit code', async () => {
    // The container holds its last line until the follower has printed the tail, so a slow
    // follower cannot miss the window (the test creates /go once it has seen line3).
    await runD(
      ['--name', 'counter'],
      ['sh', '-c', 'for i in 1 2 3; do echo line$i; done; until [ -e /tmp/go ]; do sleep 0.1; done; echo last; exit 3'],
    );
    const follow = h('logs', '-f', '--tail', '2', 'counter');
    let seen = '';
    follow.stdout!.on('data', (chunk: Buffer) => (seen += String(chunk)));
    await waitFor(async () => seen.includes('line3'));
    // No status check: the container may end (and its pid namespace kill the exec) right after touch.
    await h('exec', 'counter', 'touch', '/tmp/go');
    expect(String((await follow).stdout).split('\n')).toEqual(['line2', 'line3', 'last']);
    const wait = await h('wait', 'counter');
    expect(wait.stdout).toBe('3');
    expect((await h('rm', 'counter')).exitCode).toBe(0);
  });

  it('stops with SIGTERM when the process handles it, and restart runs it again', async () => {
    await runD(
      ['--name', 'svc'],
      ['sh', '-c', 'trap "echo term; exit 143" TERM; echo up; while :; do sleep 0.1; done'],
    );
    await waitForLog('svc', 'up');
    expect((await h('stop', '-t', '30', 'svc')).exitCode).toBe(0);
    expect((await inspect('svc')).State.ExitCode).toBe(143);
    expect((await h('restart', '-t', '1', 'svc')).exitCode).toBe(0);
    expect((await inspect('svc')).State.Status).toBe('running');
    expect((await h('rm', 'svc')).exitCode).toBe(125); // running: refused without -f
    expect((await h('rm', '-f', 'svc')).exitCode).toBe(0);
  });

  it('execs with -u, -e and -w, confined like the container (same pid namespace, no new privileges)', async () => {
    await runD(['--name', 'box', '--security-opt', 'no-new-privileges'], ['sleep', '1000']);
    const r = await h(
      'exec',
      '-u',
      'user',
      '-e',
      'GREETING=hi',
      '-w',
      '/tmp',
      'box',
      'sh',
      '-c',
      'id -u; echo $GREETING; pwd; grep NoNewPrivs /proc/self/status; echo $$',
    );
    expect(r.stderr).toBe('');
    const lines = String(r.stdout).split('\n');
    expect(lines.slice(0, 3)).toEqual(['1000', 'hi', '/tmp']);
    expect(lines[3]).toMatch(/NoNewPrivs:\s+1/);
    expect(Number(lines[4])).toBeGreaterThan(1);
    expect((await h('exec', 'box', 'nosuch')).exitCode).toBe(127);
    expect((await h('exec', 'box', 'sh', '-c', 'exit 5')).exitCode).toBe(5);
    await h('kill', 'box');
    expect((await h('wait', 'box')).stdout).toBe('137');
    const stopped = await h('exec', 'box', 'true');
    expect(stopped.exitCode).toBe(125);
    expect(stopped.stderr).toContain('cannot exec in container box: it is stopped');
    await h('rm', 'box');
  });
});

describe('attach', () => {
  it('sends its stdin to a container started with -di: a line written to cat comes back', async () => {
    await runD(['-i', '--name', 'echo'], ['cat']);
    await attachAndType('echo', 'hello through attach\n', 'hello through attach', async () => {
      expect((await h('logs', 'echo')).stdout).toBe('hello through attach');
      expect((await inspect('echo')).State.Status).toBe('running'); // the client's line did not end cat's stdin
    });
  });

  it('types into the terminal of a container started with -dit: a shell runs the line', async () => {
    await runD(['-it', '--name', 'term'], ['sh']);
    await attachAndType('term', 'echo $((6*7))x\n', '42x', async () => undefined); // the shell's answer, not the echo
  });
});

/** Attaches to a running container, types `line`, waits to see `answer`; then stops and removes it. */
async function attachAndType(name: string, line: string, answer: string, check: () => Promise<void>): Promise<void> {
  const attach = hutch(['attach', '--root', box.root, name], { stdin: 'pipe' });
  let seen = '';
  attach.stdout!.on('data', (chunk: Buffer) => (seen += String(chunk)));
  attach.stdin!.write(line);
  await waitFor(async () => seen.includes(answer));
  await check();
  await h('stop', '-t', '0', name);
  expect((await attach).exitCode).toBe(137);
  expect((await h('rm', name)).exitCode).toBe(0);
}

describe('create, start, --rm and --restart', () => {
  it('create leaves the container created until start', async () => {
    const created = await h('create', '--name', 'later', '--rootfs', rootfs, '--', 'sh', '-c', 'echo started');
    expect(created.exitCode).toBe(0);
    expect((await inspect('later')).State.Status).toBe('created');
    expect(String((await h('ps', '-a')).stdout)).toMatch(/Created\s+later/);
    expect((await h('start', 'later')).exitCode).toBe(0);
    expect((await h('wait', 'later')).stdout).toBe('0');
    expect((await h('logs', 'later')).stdout).toBe('started');
    await h('rm', 'later');
    await h('create', '--name', 'never', '--rootfs', rootfs, '--', 'true');
    expect((await h('rm', 'never')).exitCode).toBe(125); // created counts as live
    expect((await h('rm', '-f', 'never')).exitCode).toBe(0);
  });

  // This host cannot enforce limits (cgroups.test.ts): the foreground run warns; run -d and
  // create must print the same line once, on their own stderr, not only in the monitor's log.
  it('run -d and create warn, once and as a foreground run does, about limits the host cannot enforce', async () => {
    const limits = ['--network', 'none', '--memory', '50m', '--pids-limit', '64'];
    const foreground = await h('run', '--rootfs', rootfs, ...limits, '--', 'true');
    expect(foreground.exitCode).toBe(0);
    expect(String(foreground.stderr)).toMatch(/^hutch: warning: not enforced: --memory, --pids-limit: [^\n]+$/);
    const detached = await runD(['--name', 'limited', ...limits], ['sleep', '1000']);
    expect(detached.exitCode).toBe(0);
    expect(detached.stderr).toBe(foreground.stderr);
    const created = await h('create', '--name', 'limited2', '--rootfs', rootfs, ...limits, '--', 'true');
    expect(created.exitCode).toBe(0);
    expect(created.stderr).toBe(foreground.stderr);
    expect((await h('rm', '-f', 'limited', 'limited2')).exitCode).toBe(0);
  });

  it('rm -f of several removes them at once; one that does not exist is named and the others still go', async () => {
    const ids: string[] = [];
    for (const name of ['many1', 'many2']) {
      const run = await runD(['--name', name], ['sleep', '1000']);
      expect(run.exitCode).toBe(0);
      ids.push(String(run.stdout).trim());
    }
    const netDirs = ids.map((id) => join(box.root, 'run', 'net', id.slice(0, 16)));
    expect(netDirs.map((d) => existsSync(d))).toEqual([true, true]); // slirp4netns' socket folder
    const removed = await h('rm', '-f', 'many1', 'nosuch', 'many2');
    expect(removed.exitCode).not.toBe(0);
    expect(removed.stdout).toBe('many1\nmany2');
    expect(String(removed.stderr)).toContain('no such container: nosuch');
    const left = await h('ps', '-a');
    expect(String(left.stdout)).not.toMatch(/many[12]/);
    expect(netDirs.map((d) => existsSync(d))).toEqual([false, false]); // rm -f skips the finish: removeRecord takes it
  });

  it('--rm removes the container when it ends, and --restart=on-failure:2 runs it three times', async () => {
    await runD(['--rm', '--name', 'gone'], ['true']);
    await runD(['--restart', 'on-failure:2', '--name', 'flaky'], ['sh', '-c', 'echo try; exit 1']);
    await waitFor(async () => (await h('inspect', 'gone')).exitCode === 125);
    // RestartCount reaches 2 before the third run starts (the monitor backs off between runs):
    // wait for the monitor to give up, then check what the three runs left.
    await waitFor(async () => !isRunning((await inspect('flaky')).State.MonitorPid));
    expect(await inspect('flaky')).toMatchObject({ RestartCount: 2, State: { Status: 'exited', ExitCode: 1 } });
    expect(String((await h('logs', 'flaky')).stdout).split('\n')).toEqual(['try', 'try', 'try']);
    await h('rm', 'flaky');
  });

  it('--restart=always runs it again after a clean exit, until stop', async () => {
    await runD(['--restart', 'always', '--name', 'again'], ['sh', '-c', 'echo run; exit 0']);
    await waitFor(async () => (await inspect('again')).RestartCount >= 2);
    const monitor: number = (await inspect('again')).State.MonitorPid;
    expect((await h('stop', '-t', '0', 'again')).exitCode).toBe(0);
    await waitFor(async () => !isRunning(monitor)); // stopped, even between two runs: the monitor gives up
    expect((await inspect('again')).State.Status).toBe('exited');
    expect(new Set(String((await h('logs', 'again')).stdout).split('\n'))).toEqual(new Set(['run']));
    expect((await h('rm', 'again')).exitCode).toBe(0);
  });

  it('refuses a name in use and a command that does not exist, leaving nothing', async () => {
    await runD(['--name', 'dup'], ['sleep', '1000']);
    const again = await runD(['--name', 'dup'], ['true']);
    expect(again.exitCode).toBe(125);
    expect(again.stderr).toContain('the name is in use');
    const missing = await runD(['-i', '--name', 'nope'], ['nosuch']); // -i: the monitor's stdin socket must not keep it alive
    expect(missing.exitCode).toBe(127);
    expect((await h('inspect', 'nope')).exitCode).toBe(125);
    expect((await h('pause', 'dup')).stderr).toMatch(/cannot pause container dup: .*freezer/);
    await h('rm', '-f', 'dup');
  });
});

describe('the monitor', () => {
  it('killed with SIGKILL leaves a stopped container with an honest status that rm cleans', async () => {
    await runD(['--name', 'orphan'], ['sleep', '1000']);
    const state = (await inspect('orphan')).State;
    process.kill(state.MonitorPid, 'SIGKILL');
    await waitFor(async () => (await inspect('orphan')).State.Status === 'exited');
    const after = (await inspect('orphan')).State;
    expect(after.ExitCode).toBe(-1);
    expect(after.Error).toContain('monitor');
    expect(String((await h('ps', '-a')).stdout)).toMatch(/Exited \(-1\).*orphan/);
    expect((await h('rm', 'orphan')).exitCode).toBe(0);
  });

  it('serves commands run at the same time: ps during run, two rm of one container', async () => {
    const [a, b, ps] = await Promise.all([
      runD(['--name', 'one'], ['sleep', '1000']),
      runD(['--name', 'two'], ['sleep', '1000']),
      h('ps', '-a'),
    ]);
    expect([a.exitCode, b.exitCode, ps.exitCode]).toEqual([0, 0, 0]);
    const [r1, r2] = await Promise.all([h('rm', '-f', 'one'), h('rm', '-f', 'one')]);
    expect([r1.exitCode, r2.exitCode].sort()).toContain(0);
    for (const r of [r1, r2]) if (r.exitCode !== 0) expect(r.stderr).toContain('no such container');
    await Promise.all([h('stop', '-t', '0', 'two'), h('kill', 'two').catch(() => undefined)]);
    expect((await h('rm', 'two')).exitCode).toBe(0);
  });
});

describe("the monitor started at the CLI's start (src/cli/early-monitor.cts)", () => {
  /** Runs hutch traced; the pid of the monitor it started before its bundle, if it did. */
  async function traced(args: string[]) {
    const trace = join(box.dir, `trace-${Date.now()}`);
    const verb = args[0] === 'container' ? 2 : 1;
    const argv = [...args.slice(0, verb), '--root', box.root, ...args.slice(verb)];
    const result = await hutch(argv, { env: { HUTCH_TRACE: trace } });
    const early = /^\S+ \d+ monitor early (\d+)$/m.exec(existsSync(trace) ? readFileSync(trace, 'utf8') : '');
    return { result, monitor: early ? Number(early[1]) : undefined };
  }

  it('is the monitor of the container run -d and create make', async () => {
    const run = await traced(['run', '-d', '--name', 'early', '--rootfs', rootfs, '--', 'sleep', '1000']);
    expect(run.result.stderr).toBe('');
    expect(run.monitor).toBeDefined();
    expect((await inspect('early')).State.MonitorPid).toBe(run.monitor);
    const create = await traced(['container', 'create', '--name', 'made', '--rootfs', rootfs, '--', 'true']);
    expect(create.result.stderr).toBe('');
    expect((await inspect('made')).State.MonitorPid).toBe(create.monitor);
    expect((await h('rm', '-f', 'early', 'made')).exitCode).toBe(0);
  });

  // Node reads NODE_EXTRA_CA_CERTS's file as it starts (~45 ms where it names Debian's bundle);
  // only the CLI speaks TLS (the registry client), so the processes it starts must not get it.
  it('starts nothing of its own with NODE_EXTRA_CA_CERTS, which only the CLI uses', async () => {
    const env = { NODE_EXTRA_CA_CERTS: '/etc/ssl/certs/ca-certificates.crt' };
    const run = await hutch(
      ['run', '--root', box.root, '-d', '--name', 'certs', '--rootfs', rootfs, '--', 'sleep', '1000'],
      {
        env,
      },
    );
    expect(run.exitCode, String(run.stderr)).toBe(0);
    const monitor: number = (await inspect('certs')).State.MonitorPid;
    const environs = processTree(monitor).flatMap((p) => {
      try {
        return [{ command: p.command, env: readFileSync(`/proc/${p.pid}/environ`, 'latin1').split('\0') }];
      } catch {
        return []; // not readable (the container's own, when not dumpable)
      }
    });
    expect(environs.length).toBeGreaterThan(0); // the monitor's at least
    expect(environs.filter((e) => e.env.some((v) => v.startsWith('NODE_EXTRA_CA_CERTS=')))).toEqual([]);
    expect((await h('rm', '-f', 'certs')).exitCode).toBe(0);
  });

  it('ends, having touched nothing, when the command makes no container: a usage error, a missing image, a bad name', async () => {
    for (const args of [
      ['run', '-d', '--bogus', '--rootfs', rootfs, '--', 'true'],
      ['run', '-dit', '--pull', 'never', 'localhost/not-here'],
      ['create', '--name', 'no good', '--rootfs', rootfs, '--', 'true'],
    ]) {
      const { result, monitor } = await traced(args);
      expect(result.exitCode, args.join(' ')).toBe(125);
      expect(monitor, args.join(' ')).toBeDefined();
      await waitFor(async () => !isRunning(monitor!));
    }
    // A monitor that dies after go, before its report: the CLI says how, and removes the container.
    const died = await hutch(['run', '-d', '--root', box.root, '--rootfs', rootfs, '--', 'true'], {
      env: { HUTCH_FAULT: 'prepared:kill' },
    });
    expect(died.exitCode).toBe(125);
    expect(died.stderr).toMatch(
      /^hutch: cannot start the monitor of container [0-9a-f]{12}: it was killed by SIGKILL before reporting$/m,
    );
    // A run whose -d is its command's is not detached: no monitor.
    const { result, monitor } = await traced(['run', '--rootfs', rootfs, 'true', '-d']);
    expect(result.exitCode).toBe(0);
    expect(monitor).toBeUndefined();
  });
});

async function waitFor(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('condition never became true');
}

async function waitForLog(name: string, text: string): Promise<void> {
  await waitFor(async () => String((await h('logs', name)).stdout).includes(text));
}

/** Whether `pid` runs (a zombie, not yet reaped by whoever adopted it, does not). */
function isRunning(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}
