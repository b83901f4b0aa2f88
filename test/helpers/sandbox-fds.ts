import { closeSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { fdStdio, HUTCH, type HutchResultPromise } from './hutch-cli.js';

let files = 0;

/**
 * `hutch sandbox FLAGS -- sh -c SCRIPT` in the C front alone (HUTCH_SANDBOX_NO_NODE=1; `env` may
 * undo it), HOME at `home`, with `contents` at fds 3, 4, ...: files of the scratch folder `dir`,
 * opened for this run alone (the front reads each to its end) and closed after it.
 */
export async function sandboxWithFds(
  dir: string,
  home: string,
  flags: string[],
  script: string,
  contents: (string | Buffer)[] = [],
  env: Record<string, string> = {},
): Promise<Awaited<HutchResultPromise>> {
  const fds = contents.map((content) => {
    const file = join(dir, `fd-${files++}`);
    writeFileSync(file, content);
    return openSync(file, 'r');
  });
  try {
    return await (execa(HUTCH, ['sandbox', ...flags, '--', 'sh', '-c', script], {
      reject: false,
      stdio: ['ignore', 'pipe', 'pipe', ...fds.map(fdStdio)],
      env: { HUTCH_DEBUG: '', HUTCH_SANDBOX_NO_NODE: '1', HOME: home, ...env },
    }) as unknown as HutchResultPromise);
  } finally {
    fds.forEach((fd) => closeSync(fd));
  }
}
