import type * as ChildProcess from 'node:child_process';
import type * as Crypto from 'node:crypto';
import type * as Dgram from 'node:dgram';
import type * as Net from 'node:net';
import type * as ReadlinePromises from 'node:readline/promises';
import { createRequire } from 'node:module';

/**
 * Node built-in modules loaded where they are used rather than when a module importing them is
 * (the bundle evaluates a module's imports as it loads it), for modules on a run's path that need
 * them only off it: node:crypto costs a start ~3 ms, node:child_process ~1 ms, node:dgram
 * ~0.7 ms, node:readline/promises ~0.6 ms (a short name's prompt; docs/startup.md, "Node's built-in modules on a run's path"); the shared union daemon
 * never needs child_process nor node:net (~2-3 ms of its start). A require, not import(): the
 * bundles run in a vm.Script, which has no dynamic import. Node keeps a built-in once loaded:
 * later calls are a lookup.
 */
const load = createRequire(import.meta.url);

export const crypto = (): typeof Crypto => load('node:crypto') as typeof Crypto;
export const childProcess = (): typeof ChildProcess => load('node:child_process') as typeof ChildProcess;
export const dgram = (): typeof Dgram => load('node:dgram') as typeof Dgram;
export const net = (): typeof Net => load('node:net') as typeof Net;
export const readlinePromises = (): typeof ReadlinePromises =>
  load('node:readline/promises') as typeof ReadlinePromises;
