// src/engine/launch/terminal.ts: a terminal's output ends at its process's end, never at the pty's
// hang-up. libuv ended the master's stream at its first short read (~4 KiB) after POLLHUP, and the
// ~8 KiB the pty still held were lost; a child left holding the slave kept the detach waiting.
// And its input never waits on the pty (terminal-input.ts): a write into a full pty stopped the
// thread that reads the pty, and a command that wrote back (`cat`) then waited on it: a deadlock.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync } from 'node:fs';
import { PassThrough, Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect, it } from 'vitest';
import { attachTerminal } from '../../../src/engine/launch/terminal.js';
import { openpty } from '../../../src/sys/pty.js';

/** `script` in sh on a new pty, joined to a buffer (and `input`); our copy of the slave closed at once. */
function onPty(
  script: string,
  input?: NodeJS.ReadableStream,
): { child: ChildProcess; detach: () => Promise<void>; output: () => string } {
  const { master, slave } = openpty({ rows: 24, cols: 80 });
  let text = '';
  const output = new Writable({
    write: (c: Buffer, _encoding, done) => ((text += c.toString()), done()),
  });
  const detach = attachTerminal(master, { output, input });
  const child = spawn('sh', ['-c', script], { stdio: [input ? slave : 'ignore', slave, 'ignore'] });
  closeSync(slave);
  return { child, detach, output: () => text };
}

it('passes on what the pty held when its writer ended before anything was read', async () => {
  const { child, detach, output } = onPty('head -c 8000 /dev/zero | tr "\\0" a');
  // The event loop waits here until the shell is a zombie: everything is in the pty, no slave left.
  const zombie = `until grep -q '^[0-9]* ([^)]*) Z' /proc/${child.pid}/stat; do sleep 0.01; done`;
  expect(spawnSync('sh', ['-c', zombie], { timeout: 20_000 }).status).toBe(0);
  await once(child, 'exit');
  await detach();
  expect(output().length).toBe(8000); // 4095 before: one read of the pty after its hang-up
  expect(output()).toBe('a'.repeat(8000));
});

it('ends with its process, not with a child left holding the pty; a last line without a newline comes', async () => {
  const { child, detach, output } = onPty('sleep 1000 & echo $!; printf last');
  await once(child, 'exit');
  try {
    await detach(); // before: waited for the sleep (the master's EIO)
    expect(output().split('\r\n')[1]).toBe('last');
  } finally {
    process.kill(Number(output().split('\r\n')[0]), 'SIGKILL');
  }
});

/** 1 MB of 100-character lines, typed in 64 KiB pieces; what the caller of `hutch run -i -t` may pipe in. */
function typeLines(input: PassThrough): string {
  const text = ('a'.repeat(100) + '\n').repeat(10_000);
  for (let at = 0; at < text.length; at += 65536) input.write(text.slice(at, at + 65536));
  return text;
}

it('types 1 MB into a pty whose reader writes it back, every byte, without a deadlock', async () => {
  const input = new PassThrough();
  // On a deadlock, `cat` is ended after 20 s and the rest read away: the test fails, not hangs.
  const script = 'stty -echo; echo ready; timeout 20 cat || cat >/dev/null';
  const { child, detach, output } = onPty(script, input);
  while (!output().includes('ready\r\n')) await sleep(10);
  const text = typeLines(input);
  input.write('\x04'); // ^D: the end of input of a terminal (in canonical mode), for cat
  await once(child, 'exit');
  await detach();
  const back = output().slice('ready\r\n'.length);
  expect(back.length).toBe(text.length + 10_000); // every newline written back as \r\n (onlcr)
  expect(back).toBe(text.replaceAll('\n', '\r\n'));
}, 60_000);

it('drops what the pty did not take at the end, without waiting for it', async () => {
  const input = new PassThrough();
  const { child, detach, output } = onPty('stty -echo; echo ready; sleep 0.2', input);
  while (!output().includes('ready')) await sleep(10);
  typeLines(input); // nobody reads: most of it stays here
  await once(child, 'exit');
  await detach(); // before: never returned (a write into the full pty)
  expect(input.isPaused()).toBe(true);
  expect(input.readableLength).toBeGreaterThan(0); // the caller's stdin was held back, not read into memory
}, 60_000);
