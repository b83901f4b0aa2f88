// src/sys/timerfd.ts: the shared union daemon's linger (fuse/shared.ts) is a timerfd in its poll
// set: readable once expired, and an expiry not read is cleared by disarming (no read needed).
import { readSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect, it } from 'vitest';
import { oneShotTimer } from '../../src/sys/timerfd.js';

/** Whether the timer's fd has an expiry to read (it is non-blocking: EAGAIN when not). */
function expired(fd: number): boolean {
  try {
    return readSync(fd, Buffer.alloc(8)) === 8;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EAGAIN') return false;
    throw error;
  }
}

it('expires once armed; disarming clears an expiry not read', async () => {
  const timer = oneShotTimer();
  try {
    expect(expired(timer.fd)).toBe(false);
    timer.arm(1);
    let seen = false;
    for (let i = 0; i < 200 && !seen; i++) {
      await sleep(10);
      seen = expired(timer.fd);
    }
    expect(seen).toBe(true);
    timer.arm(1);
    await sleep(50);
    timer.arm(0);
    expect(expired(timer.fd)).toBe(false);
  } finally {
    timer.close();
  }
});
