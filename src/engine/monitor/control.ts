import { rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { shortSocketPath } from '../store/index.js';
import type { ErrorCode } from '../../error-codes.js';
import { HutchError } from '../../errors.js';

/** A HutchError as it crosses from the monitor to a CLI. */
export interface SerializedError {
  code: ErrorCode;
  message: string;
  hint?: string;
  exitCode: number;
}

/** The error a monitor reported, as the CLI throws it. */
export function errorFromReport(e: SerializedError): HutchError {
  return new HutchError(e.code, e.message, { hint: e.hint, exitCode: e.exitCode });
}

// The monitor's control socket (runDir's socket): `start` of a created container, and the gate
// that holds the container between create and start.

/** Holds the container between create and start until `start` arrives (or at once with autoStart). */
export class StartGate {
  private release: (() => void) | undefined;
  private gate: Promise<void>;
  private startWaiters: ((error?: SerializedError) => void)[] = [];
  isOpen: boolean;
  constructor(open: boolean) {
    this.isOpen = open;
    this.gate = open ? Promise.resolve() : new Promise((r) => (this.release = r));
  }
  wait(): Promise<void> {
    return this.gate;
  }
  open(): void {
    this.isOpen = true;
    this.release?.();
    this.gate = Promise.resolve();
  }
  /** A `start` request: resolves when the process runs. */
  request(): Promise<SerializedError | undefined> {
    return new Promise((resolve) => {
      this.startWaiters.push(resolve);
      this.open();
    });
  }
  started(): void {
    this.startWaiters.splice(0).forEach((w) => w());
  }
  failed(error: SerializedError): void {
    this.startWaiters.splice(0).forEach((w) => w(error));
  }
}

/** The control socket: one JSON line per request, one JSON line back. */
export function listen(path: string, starter: StartGate): Promise<Server> {
  rmSync(path, { force: true });
  const server = createServer((conn) => {
    conn.on('error', () => undefined);
    conn.once('data', async (data) => {
      const op = data.toString().trim();
      if (op !== 'start')
        return void conn.end(
          JSON.stringify({
            ok: false,
            error: { code: 'BUG', message: `unknown monitor request ${op}`, exitCode: 125 },
          }) + '\n',
        );
      const error = await starter.request();
      conn.end(JSON.stringify(error === undefined ? { ok: true } : { ok: false, error }) + '\n');
    });
  });
  const short = shortSocketPath(path);
  return new Promise<Server>((resolve, reject) => {
    server.once('error', reject);
    server.listen(short.path, () => resolve(server));
  }).finally(() => short.close());
}

/** Resolves once no request is open on `server` (its replies are out), or after ~2 s. */
export async function settled(server: Server): Promise<void> {
  for (let round = 0; round < 200; round++) {
    const open = await new Promise<number>((resolve) => server.getConnections((e, n) => resolve(e ? 0 : n)));
    if (open === 0) return;
    await sleep(10);
  }
}
