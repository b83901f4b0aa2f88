import type { ReadableStream as WebReadable } from 'node:stream/web';
import { RegistryError } from '../errors.js';

/**
 * What a registry's answers may not do to hutch: hold it forever (a server that stops sending is
 * given up after the idle timeout, for the headers and between body chunks; one that trickles a
 * byte now and then, below the minimum rate over a window of the same length), fill its memory (a
 * body read whole has a size limit, counted while reading), or take its credentials elsewhere
 * (redirects are followed here, and the Authorization header only to the same origin).
 */

/** Seconds without a byte from the registry before hutch gives up: HUTCH_REGISTRY_TIMEOUT, 30 by default. */
export function idleTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const s = Number(env.HUTCH_REGISTRY_TIMEOUT);
  return Number.isFinite(s) && s > 0 ? s * 1000 : 30_000;
}

/**
 * Bytes a second a body must average over each idle-timeout window, as curl's --speed-limit:
 * HUTCH_REGISTRY_MIN_RATE, 1024 by default, 0 for none. A slow link passes; a server that sends a
 * byte every few seconds (never idle long enough to time out) does not hold a pull forever.
 */
export function minimumRate(env: NodeJS.ProcessEnv = process.env): number {
  const rate = Number(env.HUTCH_REGISTRY_MIN_RATE);
  return env.HUTCH_REGISTRY_MIN_RATE !== undefined &&
    env.HUTCH_REGISTRY_MIN_RATE !== '' &&
    Number.isFinite(rate) &&
    rate >= 0
    ? rate
    : 1024;
}

const MAX_REDIRECTS = 5;

/**
 * One HTTP request, redirects followed by hand: a hop to another origin (scheme, host or port)
 * goes without the Authorization header, as the fetch standard and curl do. The response's
 * headers must come within the idle timeout; its body is read with bodyChunks or readBody.
 */
export async function guardedFetch(
  url: string,
  init: { method: string; headers: Record<string, string>; body?: Buffer },
  what: string,
): Promise<Response> {
  let current = new URL(url);
  let headers = init.headers;
  const origin = current.origin;
  for (let hop = 0; ; hop++) {
    const res = await fetchWithin(current, { ...init, headers }, what);
    const location = res.headers.get('location');
    if (![301, 302, 303, 307, 308].includes(res.status) || location === null || !['GET', 'HEAD'].includes(init.method))
      return res;
    await res.body?.cancel();
    if (hop >= MAX_REDIRECTS)
      throw new RegistryError('REGISTRY_HTTP', `cannot fetch ${what}: more than ${MAX_REDIRECTS} redirects`, {
        hint: 'the registry is misbehaving',
      });
    current = new URL(location, current);
    if (current.origin !== origin) headers = withoutAuthorization(headers);
  }
}

async function fetchWithin(
  url: URL,
  init: { method: string; headers: Record<string, string>; body?: Buffer },
  what: string,
): Promise<Response> {
  const controller = new AbortController();
  const ms = idleTimeoutMs();
  const timer = setTimeout(() => controller.abort(timedOut(what, ms, 'to answer')), ms);
  try {
    return await fetch(url, {
      method: init.method,
      headers: init.headers,
      body: init.body as unknown as BodyInit | undefined,
      redirect: 'manual',
      signal: controller.signal,
    });
  } catch (error) {
    if (controller.signal.aborted) throw controller.signal.reason;
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

function withoutAuthorization(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([k]) => k.toLowerCase() !== 'authorization'));
}

/**
 * The body's chunks; a pause longer than the idle timeout, or less than the minimum rate over a
 * window as long, cancels the body and throws REGISTRY_TIMEOUT.
 */
export async function* bodyChunks(res: Response, what: string): AsyncGenerator<Buffer> {
  if (res.body === null) return;
  const reader = (res.body as unknown as WebReadable<Uint8Array>).getReader();
  const ms = idleTimeoutMs();
  const tooSlow = rateWatch(ms, minimumRate(), what);
  try {
    for (;;) {
      let timer: NodeJS.Timeout | undefined;
      const quiet = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(timedOut(what, ms, 'to send more')), ms);
      });
      let next: ReadableStreamReadResult<Uint8Array>;
      try {
        next = await Promise.race([reader.read(), quiet]);
      } finally {
        clearTimeout(timer);
      }
      if (next.done) return;
      tooSlow(next.value.byteLength);
      yield Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength);
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

/** Counts a body's bytes in windows of `ms`; throws when a window ends below `rate` bytes a second. */
function rateWatch(ms: number, rate: number, what: string): (bytes: number) => void {
  let windowStart = Date.now();
  let inWindow = 0;
  return (bytes) => {
    inWindow += bytes;
    const now = Date.now();
    if (now - windowStart < ms) return;
    const seconds = (now - windowStart) / 1000;
    if (inWindow < rate * seconds)
      throw new RegistryError(
        'REGISTRY_TIMEOUT',
        `cannot fetch ${what}: the registry sent ${inWindow} bytes in ${seconds.toFixed(1)} s, below ${rate} bytes/s`,
        { hint: 'check the network and the registry, or lower HUTCH_REGISTRY_MIN_RATE (bytes/s; 0 for no minimum)' },
      );
    windowStart = now;
    inWindow = 0;
  };
}

/** The whole body, refused (MANIFEST_TOO_LARGE) as soon as it passes `limit` bytes: never read past it. */
export async function readBody(res: Response, limit: number, what: string): Promise<Buffer> {
  const declared = Number(res.headers.get('content-length') ?? 0);
  if (declared > limit) {
    await res.body?.cancel();
    throw tooLarge(what, `declares ${declared} bytes`, limit);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of bodyChunks(res, what)) {
    total += chunk.length;
    if (total > limit) throw tooLarge(what, `sent more than ${limit} bytes`, limit);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function tooLarge(what: string, why: string, limit: number): RegistryError {
  return new RegistryError('MANIFEST_TOO_LARGE', `${what} ${why}; hutch reads at most ${limit} bytes of a manifest`, {
    hint: 'the registry is misbehaving, or this is not an image manifest',
  });
}

function timedOut(what: string, ms: number, doing: string): RegistryError {
  return new RegistryError(
    'REGISTRY_TIMEOUT',
    `cannot fetch ${what}: the registry took more than ${ms / 1000} s ${doing}`,
    { hint: 'check the network and the registry, or raise HUTCH_REGISTRY_TIMEOUT (seconds)' },
  );
}
