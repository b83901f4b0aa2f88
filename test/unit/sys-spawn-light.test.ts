import { closeSync, mkdtempSync, openSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { dupOnto } from '../../src/sys/fdops.js';
import { inheritableFds, spawnLight } from '../../src/sys/spawn-light.js';

const dir = mkdtempSync(join(tmpdir(), 'spawn-light-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function text(stream: Readable | null): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    stream!.on('data', (c: Buffer) => (out += c.toString()));
    stream!.on('end', () => resolve(out));
    stream!.on('error', reject);
  });
}

describe('spawnLight (posix_spawn through koffi)', () => {
  it('reports the exit status and the signal that ended the child', async () => {
    const code = spawnLight('sh', ['-c', 'exit 7'], { stdio: ['ignore', 'ignore', 'ignore'] });
    expect(await code.exited).toEqual({ code: 7, signal: null });
    expect(code.exitCode).toBe(7);
    const sleeper = spawnLight('sleep', ['30'], { stdio: ['ignore', 'ignore', 'ignore'] });
    const exit = new Promise((resolve) => sleeper.on('exit', (c, s) => resolve([c, s])));
    expect(sleeper.kill('SIGTERM')).toBe(true);
    expect(await exit).toEqual([null, 'SIGTERM']);
    expect(sleeper.kill('SIGKILL')).toBe(false); // reaped: its pid is no longer ours to signal
  });

  it('hears many children that end at once (SIGCHLDs merge)', async () => {
    const all = Array.from({ length: 20 }, (_, i) =>
      spawnLight('sh', ['-c', `exit ${i}`], { stdio: ['ignore', 'ignore', 'ignore'] }),
    );
    expect((await Promise.all(all.map((c) => c.exited))).map((e) => e.code)).toEqual(all.map((_, i) => i));
  });

  it('names a program that cannot be started as child_process does', () => {
    expect(() => spawnLight('/nonexistent/prog', [])).toThrow(
      expect.objectContaining({ message: 'spawn /nonexistent/prog ENOENT', code: 'ENOENT' }),
    );
    expect(() => spawnLight('no-such-program-anywhere', [])).toThrow(
      expect.objectContaining({ message: 'spawn no-such-program-anywhere ENOENT', code: 'ENOENT' }),
    );
    const notExecutable = join(dir, 'plain');
    writeFileSync(notExecutable, '#!/bin/sh\n', { mode: 0o644 });
    expect(() => spawnLight(notExecutable, [])).toThrow(expect.objectContaining({ code: 'EACCES' }));
  });

  it('gives the child exactly its stdio fds, not the ones Node holds without close-on-exec', async () => {
    const file = openSync(join(dir, 'given'), 'w');
    const leaky = 60;
    dupOnto(file, leaky); // dup2: not close-on-exec, as Node's own 0-2 are not
    try {
      // The shell lists its own fds (ls is its child): what it was given, no more.
      const child = spawnLight('sh', ['-c', 'ls /proc/$$/fd'], { stdio: ['ignore', 'pipe', 'ignore', file] });
      const [out, end] = await Promise.all([text(child.stdout), child.exited]);
      expect(end.code).toBe(0);
      expect(out.split('\n').filter(Boolean).sort()).toEqual(['0', '1', '2', '3']);
      // What a libc without posix_spawn_file_actions_addclosefrom_np closes one by one instead.
      expect(inheritableFds(3)).toContain(leaky);
      expect(inheritableFds(3)).not.toContain(file); // Node's own: close-on-exec
    } finally {
      closeSync(leaky);
      closeSync(file);
    }
  });

  it('moves fds that are one another targets without losing one', async () => {
    // Parent fds 3 and 4 as the child's 4 and 3: each source is a target of the other.
    const child = spawnLight('sh', ['-c', 'readlink /proc/$$/fd/3 /proc/$$/fd/4'], {
      stdio: ['ignore', 'pipe', 'ignore', 4, 3],
    });
    const out = await text(child.stdout);
    expect(out.split('\n').filter(Boolean)).toEqual([readlinkSync('/proc/self/fd/4'), readlinkSync('/proc/self/fd/3')]);
  });

  it('talks both ways over a pipe entry', async () => {
    const child = spawnLight('sh', ['-c', 'cat <&3 >&3'], { stdio: ['ignore', 'ignore', 'ignore', 'pipe'] });
    const channel = child.stdio[3]!;
    const back = text(channel);
    channel.end('hello\n');
    expect(await back).toBe('hello\n');
    expect((await child.exited).code).toBe(0);
  });

  it('starts the child with no signal blocked or ignored (Node ignores SIGPIPE)', async () => {
    const child = spawnLight('grep', ['-E', '^Sig(Blk|Ign)', '/proc/self/status'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const out = await text(child.stdout);
    expect(out).toMatch(/SigBlk:\s+0+\n/);
    expect(out).toMatch(/SigIgn:\s+0+\n/);
  });

  it('passes argv0, the environment given and a session of its own', async () => {
    const child = spawnLight('sh', ['-c', 'echo "$0 $FOO $HOME"; cut -d" " -f6 /proc/$$/stat'], {
      stdio: ['ignore', 'pipe', 'ignore'],
      env: { FOO: 'bar' },
      argv0: 'neutral',
      detached: true,
    });
    const out = (await text(child.stdout)).split('\n');
    expect(out[0]).toBe('neutral bar ');
    expect(Number(out[1])).toBe(child.pid);
  });
});
