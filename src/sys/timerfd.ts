import { closeSync } from 'node:fs';
import { check, libcFunction } from './libc.js';

/**
 * A one-shot timer as an fd (timerfd_create(2)): readable once it has expired, so that a loop
 * blocked in poll(2) on a set of fds (the shared union daemon's, fuse/shared.ts) wakes at a
 * deadline without a timeout argument of its own. Re-arming or disarming clears an expiry not
 * yet read (the kernel resets its count), so no read of the fd is needed.
 */
const timerfdCreate = libcFunction('int timerfd_create(int clockid, int flags)');
const timerfdSettime = libcFunction('int timerfd_settime(int fd, int flags, void *new_value, void *old_value)');
const CLOCK_MONOTONIC = 1;
const TFD_CLOEXEC = 0o2000000;
const TFD_NONBLOCK = 0o4000;

export interface OneShotTimer {
  readonly fd: number;
  /** Expires `ms` from now (replacing any earlier arming); 0 disarms. */
  arm(ms: number): void;
  close(): void;
}

export function oneShotTimer(): OneShotTimer {
  const fd = check('timerfd_create', timerfdCreate(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK) as number);
  // struct itimerspec: it_interval (0: one shot), then it_value; each { time_t sec; long nsec }.
  const spec = Buffer.alloc(32);
  return {
    fd,
    arm(ms) {
      spec.writeBigInt64LE(BigInt(Math.floor(ms / 1000)), 16);
      spec.writeBigInt64LE(BigInt((ms % 1000) * 1_000_000), 24);
      check('timerfd_settime', timerfdSettime(fd, 0, spec, null) as number);
    },
    close: () => closeSync(fd),
  };
}
