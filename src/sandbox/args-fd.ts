import { UsageError } from '../errors.js';
import { readCallerFd } from './data.js';

/** The bytes of one --args FD at most: its words travel in the helper's plan (16 MiB), with the data flags' 8 MiB. */
export const ARGS_MAX = 1 << 20;
/** The words of one --args FD at most (bubblewrap's MAX_ARGS). */
export const ARGS_WORDS_MAX = 9000;

/**
 * bubblewrap's --args FD: more flags, each word ended by a NUL, read from the caller's fd to its
 * end (then closed) before anything runs. Unlike bubblewrap, bytes after the last NUL are an
 * error, not a last word; so is a word that is not UTF-8 (Node would read it otherwise).
 */
export function readArgsFd(fd: number): string[] {
  const what = `--args ${fd}`;
  const bytes = readCallerFd(fd, what, ARGS_MAX, () =>
    argsError(`${what} holds more than ${ARGS_MAX >> 20} MiB`, 'pass the large parts as files: --file, --ro-bind'),
  );
  if (bytes.length === 0) return [];
  if (bytes[bytes.length - 1] !== 0)
    throw argsError(`${what} does not end with a NUL byte`, "end every word with a NUL: printf '%s\\0' WORD...");
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, bytes.length - 1));
  } catch {
    throw argsError(`${what} holds a word that is not UTF-8`, 'give such a word on the command line instead');
  }
  const words = text.split('\0');
  if (words.length > ARGS_WORDS_MAX)
    throw argsError(`${what} holds ${words.length} words, more than ${ARGS_WORDS_MAX}`, 'pass fewer flags');
  return words;
}

export function argsError(what: string, hint: string): UsageError {
  return new UsageError('SANDBOX_ARGS', `cannot run hutch sandbox: ${what}`, { hint });
}
