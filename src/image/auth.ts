import { readFileSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { atomicWriteFile, withLock } from '../sys/fs.js';

/** A user name and password (or token) for one registry. */
export interface Credentials {
  username: string;
  password: string;
}
interface AuthFile {
  auths?: Record<string, { auth?: string }>;
  [key: string]: unknown;
}

/**
 * The file `hutch login` writes: REGISTRY_AUTH_FILE, else ${XDG_RUNTIME_DIR}/containers/auth.json
 * (podman's), else /run/user/UID/containers/auth.json.
 */
export function authFile(env: NodeJS.ProcessEnv = process.env): string {
  if (env.REGISTRY_AUTH_FILE) return env.REGISTRY_AUTH_FILE;
  const runtime = env.XDG_RUNTIME_DIR || `/run/user/${userInfo().uid}`;
  return join(runtime, 'containers', 'auth.json');
}

/** Files read for credentials, first match wins: podman's, then the user's config, then docker's. */
export function authFiles(env: NodeJS.ProcessEnv = process.env): string[] {
  const home = env.HOME || homedir();
  const config = env.XDG_CONFIG_HOME || join(home, '.config');
  return [
    authFile(env),
    join(config, 'containers', 'auth.json'),
    join(env.DOCKER_CONFIG || join(home, '.docker'), 'config.json'),
  ];
}

/** Credentials for `host/repository`: the most specific key (host/repo/path before host) wins. */
export function findCredentials(
  host: string,
  repository: string,
  env: NodeJS.ProcessEnv = process.env,
): Credentials | undefined {
  const keys = [
    ...repoKeys(host, repository),
    host,
    ...(host === 'docker.io' ? ['https://index.docker.io/v1/', 'index.docker.io', 'registry-1.docker.io'] : []),
  ];
  for (const file of authFiles(env)) {
    const auths = readAuthFile(file).auths ?? {};
    for (const key of keys) {
      const entry = auths[key] ?? auths[`https://${key}`];
      if (entry?.auth !== undefined) return decode(entry.auth, file);
    }
  }
  return undefined;
}

/** Stores credentials for `host` in the auth file (atomic, under a lock). */
export async function saveCredentials(
  host: string,
  credentials: Credentials,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  const file = authFile(env);
  await withLock(`${file}.lock`, () => {
    const doc = readAuthFile(file);
    doc.auths = {
      ...doc.auths,
      [host]: { auth: Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64') },
    };
    atomicWriteFile(file, JSON.stringify(doc, null, '\t') + '\n', 0o600);
  });
  return file;
}

/** Removes the credentials for `host` (all hosts with `all`); returns whether any were there. */
export async function removeCredentials(
  host: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Promise<boolean> {
  const file = authFile(env);
  return withLock(`${file}.lock`, () => {
    const doc = readAuthFile(file);
    const auths = doc.auths ?? {};
    const had = host === undefined ? Object.keys(auths).length > 0 : host in auths;
    if (host === undefined) doc.auths = {};
    else delete auths[host];
    if (had) atomicWriteFile(file, JSON.stringify(doc, null, '\t') + '\n', 0o600);
    return had;
  });
}

function repoKeys(host: string, repository: string): string[] {
  const parts = repository.split('/');
  const keys: string[] = [];
  for (let i = parts.length; i > 0; i--) keys.push(`${host}/${parts.slice(0, i).join('/')}`);
  return keys;
}

function readAuthFile(file: string): AuthFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return {};
  }
  try {
    return JSON.parse(text) as AuthFile;
  } catch (error) {
    throw new UsageError('AUTH_FILE_INVALID', `cannot read credentials from ${file}: not valid JSON`, {
      cause: error,
      hint: 'fix or remove the file, then log in again',
    });
  }
}

function decode(auth: string, file: string): Credentials {
  const text = Buffer.from(auth, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon < 0)
    throw new UsageError(
      'AUTH_FILE_INVALID',
      `cannot read credentials from ${file}: an auth entry is not base64 of user:password`,
      { hint: 'log in again' },
    );
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
}
