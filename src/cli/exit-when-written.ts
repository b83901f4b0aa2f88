/**
 * Ends the process with `code` once each of `streams` has handed the kernel what was written to
 * it. process.exit drops what a stream still holds, and Node's stdout and stderr are synchronous
 * only on a file or a terminal: on a pipe its reader has not emptied, a write waits in libuv.
 * `hutch run -t | slow-reader` lost the end of the container's output that way (what the terminal
 * passed on while the pipe was full; test/integration/run-io.test.ts), more often when the run's
 * cleanup was short (no cgroup scope to remove). A stream with nothing pending costs no wait.
 */
export async function exitWhenWritten(code: number, streams: NodeJS.WritableStream[]): Promise<never> {
  await Promise.all(streams.map(written));
  process.exit(code);
}

/** Resolves once what `stream` holds is written, or it failed (a reader gone: nothing more will be). */
function written(stream: NodeJS.WritableStream): Promise<void> {
  const writable = stream as NodeJS.WritableStream & { writableLength?: number; destroyed?: boolean };
  if (!writable.writableLength || writable.destroyed === true) return Promise.resolve();
  // Writes complete in order: the callback of an empty one comes once those before it are done.
  return new Promise((resolve) => stream.write('', () => resolve()));
}
