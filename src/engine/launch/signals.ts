import { constants } from 'node:os';
import { UsageError } from '../../errors.js';

/** "TERM", "SIGTERM", "term" or "15" to the signal name Node uses; throws on unknown signals. */
export function parseSignal(value: string): NodeJS.Signals {
  const names = constants.signals as Record<string, number>;
  if (/^\d+$/.test(value)) {
    const name = Object.keys(names).find((k) => names[k] === Number(value));
    if (name !== undefined) return name as NodeJS.Signals;
  } else {
    const upper = value.toUpperCase();
    const name = upper.startsWith('SIG') ? upper : `SIG${upper}`;
    if (names[name] !== undefined) return name as NodeJS.Signals;
  }
  throw new UsageError('SIGNAL_INVALID', `invalid signal ${value}`, {
    hint: 'use a name (TERM, SIGKILL, HUP) or a number',
  });
}

/** glibc's real-time signal range on Linux (the kernel's 32 and 33 are the C library's own). */
const SIGRTMIN = 34;
const SIGRTMAX = 64;

/**
 * As parseSignal, to a number, and with the real-time signals runc accepts: 1-64, RTMIN, RTMIN+N,
 * RTMAX-N (with or without SIG); throws on anything else.
 */
export function parseSignalNumber(value: string): number {
  const n = Number(value);
  if (/^\d+$/.test(value) && n >= 1 && n <= SIGRTMAX) return n;
  const rt = /^(?:SIG)?RT(MIN|MAX)(?:([+-])(\d+))?$/.exec(value.toUpperCase());
  if (rt !== null) {
    const offset = rt[3] === undefined ? 0 : Number(rt[3]) * (rt[2] === '-' ? -1 : 1);
    const signal = (rt[1] === 'MIN' ? SIGRTMIN : SIGRTMAX) + offset;
    if (signal >= SIGRTMIN && signal <= SIGRTMAX) return signal;
  }
  return (constants.signals as Record<string, number>)[parseSignal(value)]!;
}
