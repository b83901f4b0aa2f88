// src/engine/launch/terminal.ts: a terminal's output ends at its process's end, never at the pty's
// hang-up. libuv ended the master's stream at its first short read (~4 KiB) after POLLHUP, and the
// ~8 KiB the pty still held were lost; a child left holding the slave kept the detach waiting.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync } from 'node:fs';
import { expect, it } from 'vitest';
import { attachTerminal } from '../../../src/engine/launch/terminal.js';
import { openpty } from '../../../src/sys/pty.js';

/** `script` in sh on a new pty, joined to a buffer; our copy of the slave closed at once. */
function onPty(script: string): { child: ChildProcess; detach: () => Promise<void>; output: () => string } {
  const { master, slave } = openpty({ rows: 24, cols: 80 });
  let text = '';
  const output = { write: (c: Buffer) => ((text += c.toString()), true) } as unknown as NodeJS.WritableStream;
  const detach = attachTerminal(master, { output });
  const child = spawn('sh', ['-c', script], { stdio: ['ignore', slave, 'ignore'] });
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
