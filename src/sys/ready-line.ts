import { readSync } from 'node:fs';
import { net } from './on-use.js';
import { pauseSync } from './pause.js';

/**
 * The one reader of a child's ready line: the first line a child writes on a pipe to say that it
 * is ready ("ok"; the FUSE daemon) or what it has to report (the monitor's JSON line), or why it is
 * not. Resolves with what was read up to and including the first newline, or with what came
 * before the pipe closed or failed ('' when nothing). The pipe is then let go: a child that
 * writes more after its line is not heard.
 */
export function readReadyLine(source: number | NodeJS.ReadableStream): Promise<string> {
  // node:net on use: ~2 ms of the start of the shared union daemon, which reads no ready line.
  const stream =
    typeof source === 'number' ? new (net().Socket)({ fd: source, readable: true, writable: false }) : source;
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

/**
 * The same line read synchronously, for a process that has nothing else to do until it comes
 * (the monitor's go word, a pre-started daemon's arguments): the line without its newline, or
 * undefined when `fd` ends or fails first. Bytes are kept until the newline, so UTF-8 split
 * between two reads decodes whole. `fd` stays open.
 */
export function readLineSync(fd: number): string | undefined {
  const chunk = Buffer.alloc(4096);
  let said = Buffer.alloc(0);
  for (;;) {
    let n: number;
    try {
      n = readSync(fd, chunk, 0, chunk.length, null);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EINTR') continue;
      if (code !== 'EAGAIN') return undefined;
      pauseSync(5); // a non-blocking fd: poll
      continue;
    }
    if (n === 0) return undefined;
    said = Buffer.concat([said, chunk.subarray(0, n)]);
    const end = said.indexOf(0x0a);
    if (end >= 0) return said.toString('utf8', 0, end);
  }
}
