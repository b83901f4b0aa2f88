// A pty standing for the user's terminal in front of hutch: hutch gets its slave as stdin, stdout
// and stderr; what hutch writes there is read from the master (run-io.test.ts, run-front.test.ts).
import { execFileSync } from 'node:child_process';
import { closeSync } from 'node:fs';
import { ReadStream } from 'node:tty';
import { openpty, readPending, type WindowSize } from '../../src/sys/pty.js';
import { fdStdio } from './hutch-cli.js';

export interface CallerTerminal {
  master: number;
  /** The slave as execa's stdio (all three), typed to fit it as fdStdio is. */
  stdio: never;
  /** All hutch wrote on it so far. */
  output(): string;
  /** Resolves once the output holds `text`. */
  printed(text: string): Promise<void>;
  /** Its modes as `stty -g` prints them (raw or not, echo, ...). */
  modes(): string;
  /** Reads what the pty still holds into the output (hutch may have ended before it was read), then closes it. */
  close(): void;
}

export function callerTerminal(size: WindowSize = { rows: 24, cols: 80 }): CallerTerminal {
  const { master, slave } = openpty(size);
  const out = new ReadStream(master);
  let output = '';
  out.on('data', (d: Buffer) => (output += d.toString()));
  out.on('error', () => undefined); // EIO once no slave is left
  return {
    master,
    stdio: [fdStdio(slave), fdStdio(slave), fdStdio(slave)] as never,
    output: () => output,
    printed: (text) =>
      new Promise<void>((resolve) => {
        if (output.includes(text)) return resolve();
        out.on('data', () => output.includes(text) && resolve());
      }),
    modes: () => execFileSync('stty', ['-g'], { stdio: [slave, 'pipe', 'pipe'] }).toString(),
    close: () => {
      while (out.readableLength > 0 && out.read() !== null); // read() emits 'data'
      readPending(master, (d) => (output += d.toString()));
      out.destroy();
      closeSync(slave);
    },
  };
}
