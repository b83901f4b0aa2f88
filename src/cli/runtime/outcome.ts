import { appendFileSync } from 'node:fs';
import { BugError, HutchError } from '../../errors.js';
import { defaultOciRoot } from '../../engine/oci/state.js';
import { privateDir } from '../../paths.js';
import { exitWhenWritten } from '../exit-when-written.js';
import { renderError } from '../render-error.js';
import type { GlobalArgs } from './verb-args.js';

/** The state root of runc's --root, or the default one. */
export function runtimeRoot(args: GlobalArgs): string {
  if (args.rootDir === undefined) return defaultOciRoot();
  privateDir(args.rootDir, 'the runtime state directory (--root)');
  return args.rootDir;
}

/**
 * Runs a verb and ends the process with its status once `printed()` (the streams the verb wrote
 * to) and the error's stream have taken what was written: errors go to stderr and also to --log
 * (as JSON lines with --log-format json, which conmon reads back to tell podman why a create failed).
 */
export async function finishVerb(
  args: GlobalArgs,
  body: () => Promise<number>,
  printed: () => NodeJS.WritableStream[],
  stderr?: NodeJS.WritableStream,
): Promise<never> {
  let code: number;
  const streams: NodeJS.WritableStream[] = [];
  try {
    code = await body();
  } catch (error) {
    writeLog(args, error);
    const out = stderr ?? process.stderr; // made on first use: a stdio stream costs a verb's start
    code = renderError(error, out);
    streams.push(out);
  }
  // A created container keeps the helper's pipes open: end here, as runc's create does.
  return exitWhenWritten(code, [...new Set([...printed(), ...streams])]);
}

function writeLog(args: GlobalArgs, error: unknown): void {
  if (args.log === undefined) return;
  const msg =
    error instanceof HutchError && !(error instanceof BugError)
      ? error.message
      : String(error instanceof Error ? error.stack : error);
  const line =
    args.logFormat === 'json'
      ? JSON.stringify({ level: 'error', msg, time: new Date().toISOString() })
      : `time="${new Date().toISOString()}" level=error msg="${msg}"`;
  try {
    appendFileSync(args.log, line + '\n');
  } catch {
    // the log is a courtesy; stderr has the error too
  }
}
