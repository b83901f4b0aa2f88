// A registry that lies: it serves one OCI layout image over the distribution API's GET routes
// (manifests by tag or digest, blobs by digest) and lets each test replace any answer with a
// hostile one (wrong bytes, wrong sizes, redirects, endless or stalled bodies). It records the
// Authorization header of every request, and how many body bytes each answer got out.
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';

export interface Seen {
  method: string;
  url: string;
  authorization: string | undefined;
}

/** Answers a request itself and returns true, or returns false to let the honest answer go. */
export type Answer = (req: IncomingMessage, res: ServerResponse, honest: Buffer | undefined) => boolean;

export interface HostileRegistry {
  /** `ADDRESS:PORT` */
  host: string;
  seen: Seen[];
  /** Replaces the answers from now on (undefined: honest again). */
  answer: Answer | undefined;
  /** Basic credentials it demands (401 with a Basic challenge without them), or none. */
  basic: string | undefined;
  stop(): Promise<void>;
}

/** Serves the image of `layout` (index.json's first manifest under tag `tag`) on `address`. */
export async function hostileRegistry(
  layout: string | undefined,
  tag: string,
  address = '127.0.0.1',
): Promise<HostileRegistry> {
  const blob = (hex: string): Buffer | undefined => {
    if (layout === undefined || !/^[0-9a-f]{64}$/.test(hex)) return undefined;
    try {
      return readFileSync(join(layout, 'blobs', 'sha256', hex));
    } catch {
      return undefined;
    }
  };
  const topDigest = (): string =>
    (JSON.parse(readFileSync(join(layout!, 'index.json'), 'utf8')) as { manifests: { digest: string }[] }).manifests[0]!
      .digest;
  const registry: HostileRegistry = { host: '', seen: [], answer: undefined, basic: undefined, stop: async () => {} };
  const server = createServer((req, res) => {
    registry.seen.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization });
    if (registry.basic !== undefined && req.headers.authorization !== registry.basic) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="hostile"' }).end();
      return;
    }
    const url = req.url ?? '/';
    const manifest = /\/manifests\/([^/]+)$/.exec(url)?.[1];
    const blobHex = /\/blobs\/sha256:([0-9a-f]+)$/.exec(url)?.[1];
    let honest: Buffer | undefined;
    if (manifest !== undefined) honest = blob((manifest === tag ? topDigest() : manifest).replace(/^sha256:/, ''));
    else if (blobHex !== undefined) honest = blob(blobHex);
    if (registry.answer?.(req, res, honest)) return;
    if (url === '/v2/' || url === '/v2') {
      res.writeHead(200).end('{}');
      return;
    }
    if (honest === undefined) {
      res.writeHead(404).end();
      return;
    }
    const type = manifest !== undefined ? 'application/vnd.oci.image.manifest.v1+json' : 'application/octet-stream';
    res.writeHead(200, { 'content-type': type, 'content-length': String(honest.length) }).end(honest);
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, address, resolve));
  registry.host = `${address}:${(server.address() as { port: number }).port}`;
  registry.stop = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return registry;
}

/**
 * Writes `total` bytes of `fill` (or forever when total is Infinity) as the body, honouring
 * back-pressure; resolves with how many bytes the client took before it hung up.
 */
export function streamBody(res: ServerResponse, total: number, fill = 0x20): Promise<number> {
  const chunk = Buffer.alloc(64 << 10, fill);
  let sent = 0;
  return new Promise((resolve) => {
    const finish = (): void => resolve(sent);
    res.on('close', finish);
    const pump = (): void => {
      while (sent < total) {
        const part = total - sent < chunk.length ? chunk.subarray(0, total - sent) : chunk;
        sent += part.length;
        if (!res.write(part)) {
          res.once('drain', pump);
          return;
        }
      }
      res.end();
    };
    pump();
  });
}
