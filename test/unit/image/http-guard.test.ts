// The guards on a registry's answers (src/image/http-guard.ts) against a local HTTP server: the
// size limit counted while reading, the idle timeout, redirects without credentials elsewhere.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { afterEach, describe, expect, test } from 'vitest';
import { bodyChunks, guardedFetch, idleTimeoutMs, minimumRate, readBody } from '../../../src/image/http-guard.js';

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise<void>((r) => (s.closeAllConnections(), s.close(() => r())));
  delete process.env.HUTCH_REGISTRY_TIMEOUT;
  delete process.env.HUTCH_REGISTRY_MIN_RATE;
});

async function serve(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  host = '127.0.0.1',
): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, host, r));
  return `http://${host}:${(server.address() as { port: number }).port}`;
}

const get = (url: string, headers: Record<string, string> = {}): Promise<Response> =>
  guardedFetch(url, { method: 'GET', headers }, 'the thing');

describe('http-guard', () => {
  test('the idle timeout: HUTCH_REGISTRY_TIMEOUT seconds, 30 by default', () => {
    expect(idleTimeoutMs({})).toBe(30_000);
    expect(idleTimeoutMs({ HUTCH_REGISTRY_TIMEOUT: '2.5' })).toBe(2500);
    expect(idleTimeoutMs({ HUTCH_REGISTRY_TIMEOUT: 'soon' })).toBe(30_000);
  });

  test('readBody stops at the limit without a content-length, and refuses a declared one at once', async () => {
    const chunked = await serve((_, res) => {
      res.writeHead(200);
      const pump = (): void => void (res.write(Buffer.alloc(1 << 16)) ? setImmediate(pump) : res.once('drain', pump));
      pump();
    });
    await expect(readBody(await get(chunked), 1 << 20, 'the thing')).rejects.toMatchObject({
      code: 'MANIFEST_TOO_LARGE',
      message: expect.stringContaining('sent more than 1048576 bytes'),
    });
    const declared = await serve((_, res) => res.writeHead(200, { 'content-length': '99999999' }).end());
    await expect(readBody(await get(declared), 1 << 20, 'the thing')).rejects.toMatchObject({
      message: expect.stringContaining('declares 99999999 bytes'),
    });
  });

  test('a body that goes quiet ends with REGISTRY_TIMEOUT', async () => {
    process.env.HUTCH_REGISTRY_TIMEOUT = '0.3';
    const quiet = await serve((_, res) => res.writeHead(200, { 'content-length': '10' }).write('12345'));
    const read = async (): Promise<void> => {
      for await (const _ of bodyChunks(await get(quiet), 'the thing')) void _;
    };
    await expect(read()).rejects.toMatchObject({ code: 'REGISTRY_TIMEOUT' });
  });

  test('the minimum rate: HUTCH_REGISTRY_MIN_RATE bytes/s, 1024 by default, 0 for none', () => {
    expect(minimumRate({})).toBe(1024);
    expect(minimumRate({ HUTCH_REGISTRY_MIN_RATE: '0' })).toBe(0);
    expect(minimumRate({ HUTCH_REGISTRY_MIN_RATE: '50000' })).toBe(50000);
    expect(minimumRate({ HUTCH_REGISTRY_MIN_RATE: 'fast' })).toBe(1024);
  });

  test('a body that trickles (never idle for the timeout) ends with REGISTRY_TIMEOUT naming the rate', async () => {
    process.env.HUTCH_REGISTRY_TIMEOUT = '0.5';
    const trickle = await serve((_, res) => {
      res.writeHead(200, { 'content-length': '100000' });
      const drip = setInterval(() => (res.destroyed ? clearInterval(drip) : res.write('x')), 50);
      res.on('close', () => clearInterval(drip));
    });
    const read = async (): Promise<number> => {
      let got = 0;
      for await (const chunk of bodyChunks(await get(trickle), 'the thing')) got += chunk.length;
      return got;
    };
    await expect(read()).rejects.toMatchObject({
      code: 'REGISTRY_TIMEOUT',
      message: expect.stringMatching(/the registry sent \d+ bytes in 0\.\d s, below 1024 bytes\/s/),
    });
    process.env.HUTCH_REGISTRY_MIN_RATE = '0'; // none: the same server is read until it ends
    const slowButWhole = await serve((_, res) => {
      res.writeHead(200, { 'content-length': '12' });
      let sent = 0;
      const drip = setInterval(() => (++sent === 12 ? (clearInterval(drip), res.end('x')) : res.write('x')), 50);
    });
    let got = 0;
    for await (const chunk of bodyChunks(await get(slowButWhole), 'the thing')) got += chunk.length;
    expect(got).toBe(12);
  });

  test('a redirect to another origin drops the Authorization header; one to the same origin keeps it', async () => {
    const seen: (string | undefined)[] = [];
    const other = await serve((req, res) => (seen.push(req.headers.authorization), res.end('there')), '127.0.0.2');
    const first = await serve((req, res) => {
      if (req.url === '/same') return void res.writeHead(302, { location: '/here' }).end();
      if (req.url === '/here') return void (seen.push(req.headers.authorization), res.end('here'));
      res.writeHead(307, { location: `${other}/blob` }).end();
    });
    expect(await (await get(`${first}/away`, { authorization: 'Basic c2VjcmV0' })).text()).toBe('there');
    expect(await (await get(`${first}/same`, { authorization: 'Basic c2VjcmV0' })).text()).toBe('here');
    expect(seen).toEqual([undefined, 'Basic c2VjcmV0']);
  });
});
