import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PassThrough } from 'node:stream';
import { entryPrinter, logWriter, parseLogLine, readLog, renderEntry, tail } from '../../../src/engine/store/logs.js';

describe('the container log', () => {
  it('writes whole lines as F, a line without newline as P, and reads them back with --tail', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hutch-log-'));
    const file = join(dir, 'ctr.log');
    const fd = openSync(file, 'a');
    const out = logWriter(fd, 'stdout', () => 'T');
    const err = logWriter(fd, 'stderr', () => 'T');
    out.write(Buffer.from('one\ntw'));
    err.write(Buffer.from('oops\r\n'));
    out.write(Buffer.from('o\nthree'));
    out.end();
    closeSync(fd);
    const { entries } = readLog(file);
    expect(entries.map((e) => [e.stream, e.partial, e.text])).toEqual([
      ['stdout', false, 'one'],
      ['stderr', false, 'oops'],
      ['stdout', false, 'two'],
      ['stdout', true, 'three'],
    ]);
    expect(tail(entries, 2).map((e) => e.text)).toEqual(['two', 'three']);
    expect(entries.map((e) => renderEntry(e, false)).join('')).toBe('one\noops\ntwo\nthree');
    // As logs and attach print them: each entry to the stream it came from, with its time on request.
    const [stdout, stderr] = [new PassThrough(), new PassThrough()];
    entries.forEach(entryPrinter(stdout, stderr, true));
    expect([String(stdout.read()), String(stderr.read())]).toEqual(['T one\nT two\nT three', 'T oops\n']);
    rmSync(dir, { recursive: true });
  });

  it('parses a k8s-file line and refuses a torn one', () => {
    expect(parseLogLine('2026-01-01T00:00:00.000000000Z stderr F a b ')).toEqual({
      time: '2026-01-01T00:00:00.000000000Z',
      stream: 'stderr',
      partial: false,
      text: 'a b ',
    });
    expect(parseLogLine('garbage')).toBeUndefined();
  });
});
