import { Readable } from 'node:stream';
import { RegistryError, describeCause } from '../errors.js';
import type { Credentials } from './auth.js';
import { transient } from './copy.js';
import { bodyChunks, guardedFetch, readBody } from './http-guard.js';
import { MANIFEST_ACCEPT, type Descriptor, type Platform } from './manifest.js';
import { resolveManifest, type ImageSource, type SourceManifest } from './source.js';

export interface EndpointOptions {
  host: string;
  repository: string;
  /** Plain HTTP (registries.conf `insecure`, or --tls-verify=false). */
  insecure: boolean;
  credentials: Credentials | undefined;
}

/**
 * A client of the OCI distribution API v2 for one repository, on Node's fetch: anonymous, HTTP
 * basic and bearer-token auth (the challenge flow of Docker Hub, GHCR, Quay), retries with
 * back-off on 429, 5xx and dropped connections.
 */
export class RegistryClient {
  private readonly base: string;
  private authorization: string | undefined;

  constructor(readonly options: EndpointOptions) {
    const host = options.host === 'docker.io' ? 'registry-1.docker.io' : options.host;
    this.base = `${options.insecure ? 'http' : 'https'}://${host}`;
  }

  /** Checks that the registry answers and the credentials work (for `hutch login`). */
  async ping(): Promise<void> {
    const res = await this.request('/v2/', {}, `registry ${this.options.host}`, 'pull');
    await res.body?.cancel();
  }

  async getManifest(reference: string): Promise<{ raw: Buffer; contentType?: string }> {
    const what = `manifest ${this.options.host}/${this.options.repository}:${reference}`;
    const res = await this.request(
      `/v2/${this.options.repository}/manifests/${reference}`,
      { accept: MANIFEST_ACCEPT },
      what,
    );
    return { raw: await readBody(res, 4 << 20, what), contentType: res.headers.get('content-type') ?? undefined };
  }

  /** A blob's bytes; a connection dropped half-way is resumed with a Range request. */
  async getBlob(d: Descriptor): Promise<Readable> {
    const what = `blob ${d.digest} of ${this.options.host}/${this.options.repository}`;
    const first = await this.request(`/v2/${this.options.repository}/blobs/${d.digest}`, {}, what);
    return Readable.from(this.resumable(first, d, what), { objectMode: false, highWaterMark: 1 << 20 });
  }

  private async *resumable(first: Response, d: Descriptor, what: string): AsyncGenerator<Buffer> {
    let res = first;
    let offset = 0;
    for (let attempt = 1; ; attempt++) {
      // A server that ignores Range sends everything again: skip what was already delivered.
      let skip = offset > 0 && res.status !== 206 ? offset : 0;
      try {
        if (res.body === null) throw new Error('empty response');
        for await (let chunk of bodyChunks(res, what)) {
          if (skip >= chunk.length) {
            skip -= chunk.length;
            continue;
          }
          chunk = chunk.subarray(skip);
          skip = 0;
          offset += chunk.length;
          yield chunk;
        }
        return;
      } catch (error) {
        if (error instanceof RegistryError) throw error; // a timeout, a refusal: not worth another try
        if (attempt >= 4) throw transient(`cannot fetch ${what}: ${describeCause(error)}`);
      }
      await backoff(attempt, undefined);
      res = await this.request(`/v2/${this.options.repository}/blobs/${d.digest}`, { range: `bytes=${offset}-` }, what);
    }
  }

  /** One GET, answering auth challenges once and retrying transient failures. */
  private async request(
    path: string,
    headers: Record<string, string>,
    what: string,
    scopeAction = 'pull',
  ): Promise<Response> {
    for (let attempt = 1; ; attempt++) {
      let res: Response;
      try {
        res = await this.fetch(path, headers);
        if (res.status === 401) {
          await res.body?.cancel();
          await this.authenticate(res.headers.get('www-authenticate') ?? '', what, scopeAction);
          res = await this.fetch(path, headers);
        }
      } catch (error) {
        if (error instanceof RegistryError) throw error;
        if (attempt >= 4) throw unreachable(this.options.host, what, error);
        await backoff(attempt, undefined);
        continue;
      }
      if (res.ok) return res;
      await res.body?.cancel();
      if ((res.status === 429 || res.status >= 500) && attempt < 4) {
        await backoff(attempt, res.headers.get('retry-after'));
        continue;
      }
      throw httpError(res.status, what, this.options.host);
    }
  }

  /**
   * One request of a push (HEAD, POST, PATCH, PUT) with a body that can be sent twice: answers an
   * auth challenge once (scope pull,push), retries transient failures; a status outside `ok` is
   * an error naming `what`. `path` may be a registry's absolute upload Location.
   */
  async send(
    method: string,
    path: string,
    init: { headers?: Record<string, string>; body?: Buffer },
    what: string,
    ok: number[],
  ): Promise<Response> {
    for (let attempt = 1; ; attempt++) {
      let res: Response;
      try {
        res = await this.fetch(path, init.headers ?? {}, method, init.body);
        if (res.status === 401) {
          await res.body?.cancel();
          await this.authenticate(res.headers.get('www-authenticate') ?? '', what, 'pull,push', 'push');
          res = await this.fetch(path, init.headers ?? {}, method, init.body);
        }
      } catch (error) {
        if (error instanceof RegistryError) throw error;
        if (attempt >= 4) throw unreachable(this.options.host, what, error, 'push');
        await backoff(attempt, undefined);
        continue;
      }
      if (ok.includes(res.status)) return res;
      const detail = await res.text().catch(() => '');
      if ((res.status === 429 || res.status >= 500) && attempt < 4) {
        await backoff(attempt, res.headers.get('retry-after'));
        continue;
      }
      if (res.status === 401)
        throw authError(what, this.options.host, this.options.credentials !== undefined, undefined, 'push');
      if (res.status === 403)
        throw authError(
          what,
          this.options.host,
          true,
          'the registry denied it (403): your account may not push there',
          'push',
        );
      throw new RegistryError(
        'PUSH_HTTP',
        `cannot push ${what}: the registry answered ${res.status}${detail ? ` (${detail.trim().slice(0, 200)})` : ''}`,
        { hint: 'check the destination name and your rights on it' },
      );
    }
  }

  private fetch(path: string, headers: Record<string, string>, method = 'GET', body?: Buffer): Promise<Response> {
    const all: Record<string, string> = { ...headers, 'user-agent': 'hutch/0.1' };
    if (this.authorization !== undefined) all.authorization = this.authorization;
    const url = /^https?:\/\//.test(path) ? path : `${this.base}${path}`;
    return guardedFetch(url, { method, headers: all, body }, `${this.options.host}${new URL(url).pathname}`);
  }

  /** Answers a WWW-Authenticate challenge: Basic with the credentials, or a Bearer token. */
  private async authenticate(challenge: string, what: string, action: string, verb = 'fetch'): Promise<void> {
    const scheme = challenge.split(' ')[0]!.toLowerCase();
    const creds = this.options.credentials;
    const basic =
      creds === undefined
        ? undefined
        : `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
    if (scheme === 'basic') {
      if (basic === undefined || this.authorization === basic)
        throw authError(what, this.options.host, creds !== undefined, undefined, verb);
      this.authorization = basic;
      return;
    }
    if (scheme !== 'bearer') throw authError(what, this.options.host, creds !== undefined, undefined, verb);
    const params = parseChallenge(challenge);
    if (params.realm === undefined)
      throw new RegistryError(
        'REGISTRY_AUTH_FAILED',
        `cannot authenticate to ${this.options.host} for ${what}: the bearer challenge names no realm`,
      );
    const url = new URL(params.realm);
    if (params.service !== undefined) url.searchParams.set('service', params.service);
    url.searchParams.set('scope', params.scope ?? `repository:${this.options.repository}:${action}`);
    const tokenWhat = `a token from ${url.origin}`;
    const res = await guardedFetch(
      url.href,
      { method: 'GET', headers: basic === undefined ? {} : { authorization: basic } },
      tokenWhat,
    );
    if (!res.ok) {
      await res.body?.cancel();
      throw authError(
        what,
        this.options.host,
        creds !== undefined,
        `the token service ${url.origin} answered ${res.status}`,
        verb,
      );
    }
    const body = JSON.parse((await readBody(res, 1 << 20, tokenWhat)).toString('utf8')) as {
      token?: string;
      access_token?: string;
    };
    const token = body.token ?? body.access_token;
    if (token === undefined)
      throw authError(what, this.options.host, creds !== undefined, 'the token service returned no token', verb);
    this.authorization = `Bearer ${token}`;
  }
}

/** An image in a registry, for copyImage. */
export class RegistrySource implements ImageSource {
  private readonly client: RegistryClient;
  constructor(
    endpoint: EndpointOptions,
    private readonly reference: string,
    readonly where: string,
  ) {
    this.client = new RegistryClient(endpoint);
  }
  manifest(platform: Platform): Promise<SourceManifest> {
    return resolveManifest((ref) => this.client.getManifest(ref), this.reference, platform, this.where);
  }
  blob(d: Descriptor): Promise<Readable> {
    return this.client.getBlob(d);
  }
  async close(): Promise<void> {}
}

/** Parses `Bearer realm="...",service="...",scope="..."`. */
export function parseChallenge(header: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of header.slice(header.indexOf(' ') + 1).matchAll(/([a-zA-Z_]+)="([^"]*)"/g))
    out[m[1]!.toLowerCase()] = m[2]!;
  return out;
}

function backoff(attempt: number, retryAfter: string | null | undefined): Promise<void> {
  const asked = Number(retryAfter);
  const ms = Number.isFinite(asked) && asked > 0 ? Math.min(asked, 10) * 1000 : 250 * 2 ** attempt;
  return new Promise((r) => setTimeout(r, ms));
}

function authError(what: string, host: string, hadCredentials: boolean, why?: string, verb = 'fetch'): RegistryError {
  return new RegistryError(
    'REGISTRY_AUTH_FAILED',
    `cannot ${verb} ${what}: ${why ?? (hadCredentials ? 'the registry refused the credentials' : 'the registry requires authentication')}`,
    {
      hint: `log in with \`hutch login ${host}\``,
    },
  );
}

function httpError(status: number, what: string, host: string): RegistryError {
  if (status === 404) {
    const code = what.startsWith('blob') ? 'BLOB_MISSING' : 'IMAGE_NOT_FOUND';
    return new RegistryError(code, `cannot fetch ${what}: the registry has no such ${what.split(' ')[0]}`, {
      hint:
        code === 'BLOB_MISSING'
          ? 'the image in the registry is incomplete; push it again'
          : 'check the image name and tag',
    });
  }
  if (status === 401 || status === 403) return authError(what, host, true, `the registry answered ${status}`);
  if (status === 429 || status >= 500) return transient(`cannot fetch ${what}: the registry answered ${status}`);
  return new RegistryError('REGISTRY_HTTP', `cannot fetch ${what}: the registry answered ${status}`, {
    hint: 'check the image name',
  });
}

function unreachable(host: string, what: string, error: unknown, verb = 'fetch'): RegistryError {
  const cause = describeCause((error as { cause?: unknown }).cause ?? error);
  const tls = /certificate|SSL|TLS|EPROTO|wrong version/i.test(cause);
  return Object.assign(
    new RegistryError('REGISTRY_UNREACHABLE', `cannot ${verb} ${what}: cannot reach ${host}: ${cause}`, {
      cause: error,
      hint: tls
        ? 'for a plain-HTTP registry pass --tls-verify=false or mark it insecure in registries.conf'
        : 'check the registry address and the network',
    }),
    { retry: true },
  );
}
