// Runs the built CLI (bin/hutch) as the test user and lists an image store, for image tests.
import { readdirSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { execa } from 'execa';

export const REPO = join(import.meta.dirname, '..', '..');

export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Runs `hutch ARGS` with a clean environment rooted in `home` (never the user's real store). */
export async function hutch(
  args: string[],
  options: { home?: string; input?: string; inputFile?: string; env?: Record<string, string> } = {},
): Promise<CliResult> {
  const home = options.home ?? tempDir('hutch-home-');
  const result = await execa(join(REPO, 'bin', 'hutch'), args, {
    reject: false,
    extendEnv: false,
    ...(options.inputFile !== undefined ? { inputFile: options.inputFile } : { input: options.input ?? '' }),
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: home,
      XDG_RUNTIME_DIR: join(home, 'run'),
      XDG_CONFIG_HOME: join(home, 'config'),
      XDG_DATA_HOME: join(home, 'data'),
      // The suite's: a union daemon leaves with its last container (test/helpers/global-setup.ts).
      HUTCH_FS_LINGER: process.env.HUTCH_FS_LINGER ?? '0',
      ...options.env,
    },
  });
  return { exitCode: result.exitCode ?? 1, stdout: String(result.stdout), stderr: String(result.stderr) };
}

/** A fresh temporary directory. */
export function tempDir(prefix = 'hutch-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Every path under a store's data directory, sorted, without lock files, the filesystem probe's cache and the empty tmp/. */
export function storeListing(root: string): string[] {
  const data = join(root, 'data');
  const out: string[] = [];
  const walk = (dir: string): void => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const path = join(dir, e.name);
      if (e.name.endsWith('.lock') || e.name === '.fs-probe.json') continue;
      out.push(relative(data, path));
      if (e.isDirectory()) walk(path);
    }
  };
  walk(data);
  return out.filter((p) => p !== 'tmp').sort();
}
