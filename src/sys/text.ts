import { readFileSync } from 'node:fs';

/** A small text file's contents (a /proc or /sys entry, a host config file), or undefined when it cannot be read. */
export function readTextIfPresent(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
