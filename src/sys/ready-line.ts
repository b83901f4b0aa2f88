import { Socket } from 'node:net';

/**
 * The one reader of a child's ready line: the first line a child writes on a pipe to say that it
 * is ready ("ok"; the FUSE daemon) or what it has to report (the monitor's JSON line), or why it is
 * not. Resolves with what was read up to and including the first newline, or with what came
 * before the pipe closed or failed ('' when nothing). The pipe is then let go: a child that
 * writes more after its line is not heard.
 */
export function readReadyLine(source: number | NodeJS.ReadableStream): Promise<string> {
  const stream = typeof source === 'number' ? new Socket({ fd: source, readable: true, writable: false }) : source;
  return new Promise((resolve) => {
    let said = '';
    const done = (): void => {
      stream.removeAllListeners('data');
      (stream as { destroy?: () => void }).destroy?.();
      resolve(said);
    };
    stream.on('data', (chunk: Buffer) => {
      said += chunk.toString();
      if (said.includes('\n')) done();
    });
    stream.on('end', done);
    stream.on('close', done);
    stream.on('error', done);
  });
}
