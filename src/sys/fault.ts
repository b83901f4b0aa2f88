/**
 * Fault injection for tests: HUTCH_FAULT=STEP:ACTION[,STEP:ACTION...] makes the process that
 * reaches STEP (a name passed to faultPoint) do ACTION there: `kill` (SIGKILL to itself, as a
 * crash or `kill -9` would) or `stop` (SIGSTOP to itself: the test looks around, then kills it
 * or lets it go on with SIGCONT). Unset (every real use), faultPoint does nothing.
 * The steps of `hutch run` are listed in docs/testing.md.
 */
import { trace } from './trace.js';

const faults = parse(process.env.HUTCH_FAULT);

/** A named step of a run: a fault may be injected here, and it is a line of the trace (trace.ts). */
export function faultPoint(step: string): void {
  trace(step);
  const action = faults?.get(step);
  if (action === 'kill') process.kill(process.pid, 'SIGKILL');
  else if (action === 'stop') process.kill(process.pid, 'SIGSTOP');
}

function parse(text: string | undefined): Map<string, string> | undefined {
  if (text === undefined || text === '') return undefined;
  return new Map(
    text.split(',').map((pair) => {
      const colon = pair.lastIndexOf(':');
      return [pair.slice(0, colon), pair.slice(colon + 1)] as [string, string];
    }),
  );
}
