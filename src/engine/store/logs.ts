import { closeSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * The container log: one line per output line, as podman's k8s-file driver writes it:
 * `<RFC 3339 time with ns> <stdout|stderr> <F|P> <text>`; P marks a piece of a line that
 * did not end with a newline. stdout and stderr stay apart, and every line has its time.
 */
export type LogStream = 'stdout' | 'stderr';

export interface LogEntry {
  time: string;
  stream: LogStream;
  partial: boolean;
  text: string;
}

/** A writer that splits one stream's bytes into log lines appended to `fd`. */
export function logWriter(
  fd: number,
  stream: LogStream,
  now: () => string = timestamp,
): { write(chunk: Buffer): void; end(): void } {
  let pending = '';
  const emit = (text: string, partial: boolean): void =>
    void writeSync(fd, `${now()} ${stream} ${partial ? 'P' : 'F'} ${text}\n`);
  return {
    write(chunk) {
      const lines = (pending + chunk.toString('utf8')).split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) emit(line.replace(/\r$/, ''), false);
      // A line that never ends (a progress bar) is still logged, in pieces.
      if (pending.length >= 16 * 1024) {
        emit(pending, true);
        pending = '';
      }
    },
    end() {
      if (pending !== '') emit(pending, true);
      pending = '';
    },
  };
}

/** Now, as RFC 3339 with nanoseconds (sortable, podman's format). */
export function timestamp(): string {
  const ns = process.hrtime.bigint() % 1_000_000n;
  const iso = new Date().toISOString(); // ms precision
  return `${iso.slice(0, -1)}${ns.toString().padStart(6, '0')}Z`;
}

/** Parses one log line; undefined for a line that is not one (a torn write). */
export function parseLogLine(line: string): LogEntry | undefined {
  const m = /^(\S+) (stdout|stderr) ([FP]) (.*)$/s.exec(line);
  if (m === null) return undefined;
  return { time: m[1]!, stream: m[2] as LogStream, partial: m[3] === 'P', text: m[4]! };
}

/** Renders an entry as `logs` prints it. */
export function renderEntry(e: LogEntry, timestamps: boolean): string {
  return `${timestamps ? e.time + ' ' : ''}${e.text}${e.partial ? '' : '\n'}`;
}

/** Prints entries as `logs` and `attach` do: each to the stream it came from. */
export function entryPrinter(
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
  timestamps: boolean,
): (e: LogEntry) => void {
  return (e) => void (e.stream === 'stderr' ? err : out).write(renderEntry(e, timestamps));
}

/**
 * The log's fd, or undefined while there is no log. A follower reads through one fd opened before
 * anything it waits for happens: a `--rm` container's log is removed with it as it ends, and
 * what it wrote last stays readable through the fd.
 */
export function openLog(file: string): number | undefined {
  try {
    return openSync(file, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** The entries from `offset` to the end of the file; returns them and the offset after the last whole line. */
export function readLog(file: string, offset = 0): { entries: LogEntry[]; offset: number } {
  const fd = openLog(file);
  if (fd === undefined) return { entries: [], offset };
  try {
    return readLogAt(fd, offset);
  } finally {
    closeSync(fd);
  }
}

/** readLog through an open fd (openLog). */
export function readLogAt(fd: number, offset = 0): { entries: LogEntry[]; offset: number } {
  const size = fstatSync(fd).size;
  if (size <= offset) return { entries: [], offset };
  const buf = Buffer.alloc(size - offset);
  readSync(fd, buf, 0, buf.length, offset);
  const text = buf.toString('utf8');
  const end = text.lastIndexOf('\n') + 1; // a line still being written waits for the next read
  const entries = text
    .slice(0, end)
    .split('\n')
    .filter(Boolean)
    .map(parseLogLine)
    .filter((e): e is LogEntry => e !== undefined);
  return { entries, offset: offset + Buffer.byteLength(text.slice(0, end)) };
}

/** Keeps the last `n` lines (a partial piece counts with the line it ends). */
export function tail(entries: LogEntry[], n: number | undefined): LogEntry[] {
  if (n === undefined || n < 0) return entries;
  let lines = 0;
  for (let i = entries.length - 1; i >= 0; i--) {
    if (!entries[i]!.partial || i === entries.length - 1) lines++;
    if (lines > n) return entries.slice(i + 1);
  }
  return entries;
}

/**
 * Follows the log: calls `emit` for new entries until `done()` is true and the file is read to its
 * end, through `fd` (openLog's, taken before what is followed began; closed here) or, while there
 * is none, the file as soon as it exists.
 */
export async function followLog(
  file: string,
  offset: number,
  emit: (e: LogEntry) => void,
  done: () => boolean,
  fd: number | undefined = openLog(file),
): Promise<void> {
  try {
    for (;;) {
      const finished = done(); // checked before reading, so nothing written before the end is missed
      fd ??= openLog(file);
      if (fd !== undefined) {
        const next = readLogAt(fd, offset);
        next.entries.forEach(emit);
        offset = next.offset;
      }
      if (finished) return;
      await sleep(100);
    }
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
