import { readFileSync } from 'node:fs';
import { UsageError } from '../../errors.js';

/**
 * An --env-file's entries: its lines, trimmed, neither empty nor a `#` comment, each then read as
 * a -e value is (blueprint.ts lookUpEnv). They rank above the image's Env and below -e (docker's
 * order): blueprint.ts puts them before -e's, image-config.ts after the image's Env.
 */
export function readEnvFile(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(
      'ENV_FILE_UNREADABLE',
      `cannot read --env-file ${file}: ${(error as NodeJS.ErrnoException).code}`,
      { hint: 'give a readable file of KEY=VALUE lines', cause: error },
    );
  }
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}
