// Starts Debian's docker-registry (the distribution registry) on 127.0.0.1 with a temporary
// config: no auth, htpasswd basic auth, or token auth with a small token issuer in this process.
// Several registries may share one storage directory, so an image pushed once serves all.
import { execFileSync } from 'node:child_process';
import { createSign, randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';

export interface Registry {
  /** `127.0.0.1:PORT` */
  host: string;
  stop(): Promise<void>;
}

export type RegistryAuth =
  | { kind: 'none' }
  | { kind: 'htpasswd'; user: string; password: string }
  | { kind: 'token'; user: string; password: string };

/** A free TCP port on 127.0.0.1 (bound then released; the registry takes it right after). */
export async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * Starts a registry serving `storage` (created if missing) with the given auth. The port is
 * picked free then bound by the registry; if another process takes it in between, a new port is
 * tried. A header unique to this registry proves the answering server is ours.
 */
export async function startRegistry(
  dir: string,
  storage: string,
  auth: RegistryAuth = { kind: 'none' },
): Promise<Registry> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(dir, storage, auth);
    } catch (error) {
      if (attempt >= 3) throw error;
    }
  }
}

async function startOnce(dir: string, storage: string, auth: RegistryAuth): Promise<Registry> {
  mkdirSync(dir, { recursive: true });
  mkdirSync(storage, { recursive: true });
  const port = await freePort();
  const identity = randomUUID();
  let issuer: Server | undefined;
  let authYaml = '';
  if (auth.kind === 'htpasswd') {
    const line = execFileSync('htpasswd', ['-Bbn', auth.user, auth.password], { encoding: 'utf8' }).trim();
    writeFileSync(join(dir, 'htpasswd'), `${line}\n`);
    authYaml = `auth:\n  htpasswd:\n    realm: hutch-test\n    path: ${join(dir, 'htpasswd')}\n`;
  } else if (auth.kind === 'token') {
    const started = await startTokenIssuer(dir, auth.user, auth.password);
    issuer = started.server;
    authYaml = `auth:\n  token:\n    realm: http://127.0.0.1:${started.port}/token\n    service: hutch-registry\n    issuer: hutch-test-issuer\n    rootcertbundle: ${join(dir, 'token.crt')}\n`;
  }
  const config = `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${storage}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${port}\n  headers:\n    X-Hutch-Test: [${identity}]\n${authYaml}`;
  writeFileSync(join(dir, 'config.yml'), config);
  const child: ResultPromise = execa('docker-registry', ['serve', join(dir, 'config.yml')], {
    reject: false,
    stdio: 'ignore',
    env: { OTEL_TRACES_EXPORTER: 'none' },
  });
  const host = `127.0.0.1:${port}`;
  try {
    await waitUntilServing(host, child, identity);
  } catch (error) {
    await new Promise<void>((resolve) => (issuer === undefined ? resolve() : issuer.close(() => resolve())));
    throw error;
  }
  return {
    host,
    stop: async () => {
      child.kill('SIGTERM');
      await child;
      if (issuer !== undefined) await new Promise<void>((resolve) => issuer!.close(() => resolve()));
    },
  };
}

async function waitUntilServing(host: string, child: ResultPromise, identity: string): Promise<void> {
  let exited = false;
  void child.then(() => (exited = true));
  for (let i = 0; i < 200 && !exited; i++) {
    try {
      const res = await fetch(`http://${host}/v2/`);
      await res.body?.cancel();
      if (res.headers.get('x-hutch-test') !== identity) break; // someone else's server on the port
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  child.kill();
  throw new Error(`docker-registry did not start on ${host}`);
}

/**
 * A token issuer as Docker Hub runs one: GET /token?service&scope with HTTP basic auth returns a
 * JWT signed by a key whose self-signed certificate the registry trusts (rootcertbundle).
 */
async function startTokenIssuer(
  dir: string,
  user: string,
  password: string,
): Promise<{ server: Server; port: number }> {
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      join(dir, 'token.key'),
      '-out',
      join(dir, 'token.crt'),
      '-days',
      '2',
      '-subj',
      '/CN=hutch-test-issuer',
    ],
    { stdio: 'ignore' },
  );
  const key = readFileSync(join(dir, 'token.key'), 'utf8');
  const der = Buffer.from(
    readFileSync(join(dir, 'token.crt'), 'utf8').replace(/-----[^-]+-----|\s/g, ''),
    'base64',
  ).toString('base64');
  const expected = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname !== '/token' || req.headers.authorization !== expected) {
      res.writeHead(401).end('{"errors":[{"code":"UNAUTHORIZED"}]}');
      return;
    }
    const access = url.searchParams.getAll('scope').flatMap((scope) => {
      const [type, name, actions] = scope.split(':');
      return type === undefined || name === undefined ? [] : [{ type, name, actions: (actions ?? '').split(',') }];
    });
    const now = Math.floor(Date.now() / 1000);
    const token = jwt(
      { alg: 'RS256', typ: 'JWT', x5c: [der] },
      {
        iss: 'hutch-test-issuer',
        sub: user,
        aud: url.searchParams.get('service'),
        exp: now + 300,
        nbf: now - 10,
        iat: now,
        jti: randomUUID(),
        access,
      },
      key,
    );
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token, expires_in: 300 }));
  });
  const port = await freePort();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', resolve));
  return { server, port };
}

function jwt(header: object, claims: object, key: string): string {
  const b64 = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  const body = `${b64(header)}.${b64(claims)}`;
  return `${body}.${createSign('RSA-SHA256').update(body).sign(key).toString('base64url')}`;
}

/** Pushes an OCI layout image to a registry with skopeo (plain HTTP), as a temp-HOME user. */
export async function pushLayout(layoutDir: string, tag: string, dest: string, home: string): Promise<void> {
  await execa('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `oci:${layoutDir}:${tag}`, `docker://${dest}`], {
    env: isolatedEnv(home),
    extendEnv: false,
  });
}

/** An environment for podman/skopeo that shares nothing with other tests. */
export function isolatedEnv(home: string): Record<string, string> {
  for (const d of ['config', 'data', 'run', 'tmp']) mkdirSync(join(home, d), { recursive: true, mode: 0o700 });
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    XDG_CONFIG_HOME: join(home, 'config'),
    XDG_DATA_HOME: join(home, 'data'),
    XDG_RUNTIME_DIR: join(home, 'run'),
    TMPDIR: join(home, 'tmp'),
    REGISTRY_AUTH_FILE: join(home, 'auth.json'),
    CONTAINERS_REGISTRIES_CONF: join(home, 'registries.conf'),
  };
}

/** Ends the pause process rootless podman keeps for an isolatedEnv(home) (it would outlive the test). */
export function endPodmanPause(home: string): void {
  try {
    process.kill(Number(readFileSync(join(home, 'run', 'libpod', 'tmp', 'pause.pid'), 'utf8')), 'SIGKILL');
  } catch {
    // podman started none, or it is gone
  }
}

/**
 * A proxy in front of a registry. `stall`: blobs over 1 MiB stop half-way and hang (to kill a
 * pull at a known point). `flaky`: misbehaves once per blob: the first GET answers 503, the
 * second sends half of the body and drops the connection, the third passes (honouring Range).
 * Counts requests and records the Range headers it saw.
 */
export async function flakyProxy(
  target: string,
  mode: 'flaky' | 'stall' = 'flaky',
): Promise<{ host: string; hits: Map<string, number>; ranges: string[]; stop: () => Promise<void> }> {
  const hits = new Map<string, number>();
  const ranges: string[] = [];
  const server = createServer(async (req, res) => {
    const url = req.url ?? '/';
    const blob = /\/blobs\/(sha256:[0-9a-f]+)$/.exec(url)?.[1];
    const n = blob === undefined ? 0 : (hits.get(blob) ?? 0) + 1;
    if (blob !== undefined) hits.set(blob, n);
    if (n === 1 && mode === 'flaky') {
      res.writeHead(503, { 'retry-after': '0' }).end();
      return;
    }
    const forwarded: Record<string, string> = { accept: req.headers.accept ?? '*/*' };
    if (req.headers.range !== undefined) {
      forwarded.range = req.headers.range;
      ranges.push(req.headers.range);
    }
    const upstream = await fetch(`http://${target}${url}`, { headers: forwarded });
    const body = Buffer.from(await upstream.arrayBuffer());
    const headers: Record<string, string> = {};
    upstream.headers.forEach((v, k) => {
      if (k !== 'content-encoding' && k !== 'transfer-encoding') headers[k] = v;
    });
    res.writeHead(upstream.status, { ...headers, 'content-length': String(body.length) });
    if (mode === 'stall' && blob !== undefined && body.length > 1 << 20) {
      res.write(body.subarray(0, body.length >> 1)); // and never the rest: the pull hangs mid-layer
      return;
    }
    if (n === 2 && mode === 'flaky' && body.length > 1) {
      res.write(body.subarray(0, body.length >> 1), () => res.socket?.destroy());
      return;
    }
    res.end(body);
  });
  const port = await freePort();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', resolve));
  const stop = (): Promise<void> =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return { host: `127.0.0.1:${port}`, hits, ranges, stop };
}
