// A stand-in for a container's namespaces while the launch path is built elsewhere: a `sleep`
// in a new user and network namespace (unshare maps the test user to root), and probes run
// inside it with nsenter. Every probe and holder is killed after each test.
import { execa, type ResultPromise } from 'execa';
import { mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

const started: ResultPromise[] = [];
const dirs: string[] = [];

/** A new user+network namespace held by a sleeping process; resolves once unshare has exec'd. */
export async function standIn(): Promise<{ pid: number; holder: ResultPromise }> {
  const holder = execa('unshare', ['--user', '--map-root-user', '--net', 'sleep', 'infinity'], {
    reject: false,
    stdio: 'ignore',
  });
  started.push(holder);
  const pid = holder.pid!;
  await until(
    () =>
      readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'sleep' &&
      readlinkSync(`/proc/${pid}/ns/net`) !== readlinkSync('/proc/self/ns/net'),
  );
  return { pid, holder };
}

/** The nsenter prefix that runs a command in the stand-in's namespaces as its root. */
export function enter(pid: number, ...command: string[]): string[] {
  return ['-t', String(pid), '-U', '-n', '--preserve-credentials', '--', ...command];
}

/** Runs a command in the namespace and returns its result (never throws on a status). */
export function inNs(
  pid: number,
  ...command: string[]
): Promise<{ exitCode?: number; stdout: string; stderr: string }> {
  return execa('nsenter', enter(pid, ...command), { reject: false, timeout: 20_000 }) as never;
}

/** Starts a long-running command in the namespace (killed after the test). */
export function backgroundInNs(pid: number, ...command: string[]): ResultPromise {
  const child = execa('nsenter', enter(pid, ...command), { reject: false, stdio: 'ignore' });
  started.push(child);
  return child;
}

/** A private directory, removed after the test. */
export function tempDir(prefix = 'hutch-net-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

/** An HTTP server on the host's loopback answering `body`. */
export async function hostHttpServer(body: string): Promise<{ port: number; close: () => void }> {
  const server = http.createServer((_req, res) => res.end(body));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, close: () => server.close() };
}

/** GETs a URL on the host, retrying while the server in the namespace is still starting. */
export async function fetchText(url: string, attempts = 100): Promise<string> {
  for (let i = 1; ; i++) {
    try {
      return await new Promise<string>((resolve, reject) => {
        http
          .get(url, (res) => {
            let text = '';
            res.on('data', (chunk: Buffer) => (text += chunk.toString()));
            res.on('end', () => resolve(`${res.statusCode} ${text}`));
            res.on('error', reject);
          })
          .on('error', reject);
      });
    } catch (error) {
      if (i >= attempts) throw error;
      await sleep(100);
    }
  }
}

/** Waits (a bounded number of short pauses) for a condition; test-only, not a timing assert. */
export async function until(condition: () => boolean | Promise<boolean>, attempts = 200): Promise<void> {
  for (let i = 0; i < attempts; i++) {
    try {
      if (await condition()) return;
    } catch {
      // not yet
    }
    await sleep(50);
  }
  throw new Error('condition not reached');
}

/** Whether a process exists (and is not a zombie). */
export function alive(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

/** Kills everything the test started and removes its directories. */
export async function tearDown(): Promise<void> {
  for (const child of started.splice(0)) {
    child.kill('SIGKILL');
    await child;
  }
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}
