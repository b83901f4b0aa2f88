/**
 * Fault injection for tests: HUTCH_FAULT=STEP:ACTION[,STEP:ACTION...] makes the process that
 * reaches STEP (a name passed to faultPoint) do ACTION there: `kill` (SIGKILL to itself, as a
 * crash or `kill -9` would) or `stop` (SIGSTOP to itself: the test looks around, then kills it
 * or lets it go on with SIGCONT). Unset (every real use), faultPoint does nothing.
 * The steps of `hutch run` are listed in docs/testing.md.
 */
const faults = parse(process.env.HUTCH_FAULT);

export function faultPoint(step: string): void {
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
