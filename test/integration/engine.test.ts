// The engine's API, as other parts call it: runContainer(spec, options) with hooks that get the
// container's pid after the id maps and mounts and before the process is exec'd.
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { ReadStream } from 'node:tty';
import { join } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { createContainer, runContainer } from '../../src/engine/launch/launch.js';
import { buildRunSpec, defaultRunRequest, type RunRequest } from '../../src/engine/spec/index.js';
import type { Spec } from '../../src/runtime/spec.js';
import { rootMaps } from '../../src/userns/idmap.js';
import { readSubid } from '../../src/userns/subid.js';
import { containerTest } from '../helpers/container-test.js';
import { requires } from '../helpers/host.js';

const t = containerTest();
const me = userInfo();
beforeAll(() => requires('userns', 'subuid', 'newuidmap', 'busybox'));

function spec(command: string[], over: Partial<RunRequest> = {}): Spec {
  const etc = {
    hosts: join(t.box.dir, 'hosts'),
    hostname: join(t.box.dir, 'hostname'),
    resolvConf: join(t.box.dir, 'resolv.conf'),
  };
  for (const f of Object.values(etc)) writeFileSync(f, '');
  const subuid = readSubid('uid', { name: me.username, id: me.uid });
  const subgid = readSubid('gid', { name: me.username, id: me.uid });
  return buildRunSpec(defaultRunRequest({ rootfs: t.rootfs, command, ...over }), {
    id: 'enginetest0000',
    uidMappings: rootMaps(me.uid, subuid),
    gidMappings: rootMaps(me.gid, subgid),
    subuid,
    subgid,
    setgroupsAllowed: true,
    etcFiles: etc,
  });
}

/** Runs with stdout into a file; returns the exit status and what the container printed. */
async function capture(s: Spec, hooks: ((pid: number) => Promise<void>)[]): Promise<{ exitCode: number; out: string }> {
  const file = join(t.box.dir, 'out');
  const fd = openSync(file, 'w');
  try {
    const { exitCode } = await runContainer(s, { stdio: ['ignore', fd, fd], hooks });
    return { exitCode, out: readFileSync(file, 'utf8') };
  } finally {
    closeSync(fd);
  }
}

it('runs hooks with the container pid after the maps and mounts, before exec', async () => {
  const seen: string[] = [];
  const hook = async (pid: number): Promise<void> => {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    seen.push(
      status
        .match(/^NSpid:\s+(.*)$/m)![1]!
        .split(/\s+/)
        .pop()!,
    ); // its pid inside: 1
    seen.push(readFileSync(`/proc/${pid}/uid_map`, 'utf8').trim().split('\n').length.toString());
    writeFileSync(join(t.rootfs, 'hook-ran'), `${pid}\n`); // before exec: the command reads it
  };
  const r = await capture(spec(['cat', '/hook-ran']), [hook]);
  expect(r.exitCode).toBe(0);
  expect(seen).toEqual(['1', '2']);
  expect(r.out.trim()).toMatch(/^\d+$/);
});

it('a failing hook removes the unstarted container and rethrows', async () => {
  const failing = async (): Promise<void> => {
    throw new Error('network setup failed');
  };
  await expect(
    runContainer(spec(['true']), { stdio: ['ignore', 'ignore', 'ignore'], hooks: [failing] }),
  ).rejects.toThrow('network setup failed');
});

it('create and start are separate: nothing runs until start', async () => {
  const container = await createContainer(spec(['sh', '-c', 'echo started > /marker']), {
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  // The helper runs from its sealed memfd copy (docs/security.md): the kernel names it after the memfd.
  expect(readFileSync(`/proc/${container.pid}/status`, 'utf8')).toMatch(/^Name:\s+(hutch-nsexec|memfd:hutch-nse)$/m);
  expect(() => readFileSync(join(t.rootfs, 'marker'))).toThrow();
  await container.start();
  expect(await container.wait()).toEqual({ exitCode: 0 });
  expect(readFileSync(join(t.rootfs, 'marker'), 'utf8')).toBe('started\n');
});

it('a signal during creation removes the container unstarted and gives 128+N', async () => {
  const signalDuringCreate = async (): Promise<void> => {
    process.kill(process.pid, 'SIGTERM'); // as if the user pressed ^C (here TERM) while it starts
    await new Promise((resolve) => setTimeout(resolve, 50)); // let the handler run
  };
  const s = spec(['sh', '-c', 'echo started > /marker']);
  const r = await runContainer(s, {
    stdio: ['ignore', 'ignore', 'ignore'],
    hooks: [signalDuringCreate],
    forwardSignals: true,
  });
  expect(r).toEqual({ exitCode: 143 });
  expect(() => readFileSync(join(t.rootfs, 'marker'))).toThrow();
});

it("hands the terminal master to the caller when asked (as an OCI runtime's console socket needs)", async () => {
  let master = -1;
  const container = await createContainer(spec(['sh', '-c', 'tty'], { tty: true }), {
    takeTerminal: (fd) => (master = fd),
  });
  expect(master).toBeGreaterThan(2);
  const stream = new ReadStream(master);
  let output = '';
  const ended = new Promise<void>((resolve) => {
    stream.on('data', (d: Buffer) => (output += d.toString()));
    stream.on('error', () => resolve()); // EIO: the container closed its side
    stream.on('close', () => resolve());
  });
  await container.start();
  expect(await container.wait()).toEqual({ exitCode: 0 });
  await ended;
  stream.destroy();
  expect(output.trim()).toBe('/dev/pts/0');
});
