// A process inside a container that attacks every newcomer in its pid namespace the way
// CVE-2019-5736 did: open /proc/PID/exe for writing, and read /proc/PID/environ.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { REPO } from './hutch-cli.js';

export const HELPER = join(REPO, 'native', 'hutch-nsexec');

/** The caller's environment a helper must not show: a token, and where its runtime dir is. */
export const SECRET_ENV = { HUTCH_TEST_SECRET: 'hunter2', XDG_RUNTIME_DIR: '/run/user/secret-dir' };

/** sha256 of the host's helper binary. */
export function helperDigest(): string {
  return createHash('sha256').update(readFileSync(HELPER)).digest('hex');
}

/**
 * `sh -c` script: notes in /tmp/seen "PID EXE written|refused ENVIRON" for each process that
 * appears (not busybox's own), until /tmp/stop exists; then touches /tmp/stopped and sleeps.
 */
export const WATCHER = `
: > /tmp/seen
while [ ! -e /tmp/stop ]; do
  for d in /proc/[0-9]*; do
    p=\${d#/proc/}
    [ "$p" = 1 ] || [ "$p" = $$ ] && continue
    grep -q "^$p " /tmp/seen 2>/dev/null && continue
    exe=$(readlink $d/exe 2>/dev/null) || exe=unreadable
    case "$exe" in */bin/busybox) continue;; esac
    if printf x 2>/dev/null >> $d/exe; then w=written; else w=refused; fi
    env=$(tr '\\0' ' ' < $d/environ 2>/dev/null) || env=unreadable
    echo "$p $exe $w $env" >> /tmp/seen
  done
done
touch /tmp/stopped
exec sleep 1000`;

/** Asserts the watcher's notes show no helper written, named by its host path, or leaking env. */
export function expectNothingReached(seen: string, digestBefore: string): void {
  const lines = seen.split('\n').filter(Boolean);
  expect(lines.length, 'the watcher saw no helper at all').toBeGreaterThan(0);
  for (const line of lines) {
    expect(line).not.toMatch(/ written /);
    expect(line).not.toMatch(/hunter2|secret-dir/);
    expect(line).not.toContain(HELPER);
  }
  expect(helperDigest()).toBe(digestBefore);
}
