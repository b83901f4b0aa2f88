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
  throw new UsageError('SIGNAL_INVALID', `invalid signal ${value}`, { hint: 'use a name (TERM, SIGKILL, HUP) or a number' });
}
