import { constants as osConstants } from 'node:os';

// Apart from libc.ts so that code naming an errno (the helper's wire) does not load koffi.
const errnoNames = new Map<number, string>(Object.entries(osConstants.errno).map(([name, value]) => [value, name]));

/** The symbolic name of an errno value (ENOENT for 2); koffi and Node report errno negated. */
export function errnoName(errno: number): string {
  return errnoNames.get(Math.abs(errno)) ?? `E${Math.abs(errno)}`;
}
