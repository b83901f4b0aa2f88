import { RegistryError, UsageError } from '../errors.js';
import { findCredentials, type Credentials } from './auth.js';
import { openArchive } from './archive.js';
import { copyImage } from './copy.js';
import { LayoutSource } from './layout.js';
import { hostPlatform, parsePlatform } from './manifest.js';
import { Progress } from './progress.js';
import { formatReference, parseReference, type ImageRef } from './ref.js';
import { endpointsFor, isBlocked, loadRegistriesConf } from './registries-conf.js';
import { resolveForPull } from './short-names.js';
import { RegistrySource } from './registry.js';
import type { ImageSource } from './source.js';
import { Store, type ImageRecord } from './store.js';

export interface PullOptions {
  root?: string;
  /** `os/arch[/variant]`; the host's by default. */
  platform?: string;
  quiet?: boolean;
  /** false: plain HTTP to the registry (podman's --tls-verify=false). */
  tlsVerify?: boolean;
  /** Overrides the stored credentials (--creds). */
  credentials?: Credentials;
  /** Where the progress display goes (stderr by default; shown only on a terminal). */
  progressTo?: NodeJS.WritableStream;
  env?: NodeJS.ProcessEnv;
}

/**
 * Pulls an image into the store and returns its record. `text` is a registry reference (short
 * names resolved through registries.conf) or a transport: `docker://REF`, `oci:DIR[:TAG]`,
 * `oci-archive:FILE[:TAG]`, `docker-archive:FILE`.
 */
export async function pullImage(text: string, options: PullOptions = {}): Promise<ImageRecord> {
  const store = new Store(options.root);
  store.sweepTemp();
  const platform = options.platform === undefined ? hostPlatform() : parsePlatform(options.platform);
  const progress = Progress.for(options.progressTo ?? process.stderr, options.quiet ?? false);
  const local = await openLocalSource(text, store);
  try {
    if (local !== undefined) return await copyImage(store, local.source, { names: local.names, platform, progress });
    let lastError: unknown;
    const resolution = await resolveForPull(text, options.env);
    for (const candidate of resolution.candidates) {
      for (const source of registrySources(candidate, options)) {
        try {
          const names = [formatReference(candidate)];
          const record = await copyImage(store, source, { names, platform, progress });
          resolution.record?.(candidate);
          return record;
        } catch (error) {
          if (!(error instanceof RegistryError) || !['IMAGE_NOT_FOUND', 'REGISTRY_UNREACHABLE'].includes(error.code))
            throw error;
          lastError = error;
        }
      }
    }
    throw (
      lastError ??
      new RegistryError('IMAGE_NOT_FOUND', `cannot pull ${text}: no registry to try`, {
        hint: 'use a fully qualified name',
      })
    );
  } finally {
    progress?.finish();
    await local?.source.close();
  }
}

function registrySources(ref: ImageRef, options: PullOptions): ImageSource[] {
  const conf = loadRegistriesConf(options.env);
  if (isBlocked(conf, ref.registry, ref.repository)) {
    throw new RegistryError('REGISTRY_BLOCKED', `cannot pull ${formatReference(ref)}: registries.conf blocks it`, {
      hint: 'edit registries.conf or pick another registry',
    });
  }
  const reference = ref.digest ?? ref.tag ?? 'latest';
  return endpointsFor(conf, ref.registry, ref.repository, options.tlsVerify === false, ref.digest !== undefined).map(
    (endpoint) => {
      const credentials = options.credentials ?? findCredentials(endpoint.host, endpoint.repository, options.env);
      return new RegistrySource({ ...endpoint, credentials }, reference, formatReference(ref));
    },
  );
}

/** `oci:`, `oci-archive:` and `docker-archive:` sources; undefined for a registry reference. */
async function openLocalSource(
  text: string,
  store: Store,
): Promise<{ source: ImageSource; names: string[] } | undefined> {
  const colon = text.indexOf(':');
  const transport = text.slice(0, colon);
  if (!['oci', 'oci-archive', 'docker-archive'].includes(transport)) return undefined;
  const rest = text.slice(colon + 1);
  if (rest === '')
    throw new UsageError('IMAGE_REF_INVALID', `${text} names no path`, { hint: `write ${transport}:PATH` });
  const [path, tag] = splitPathTag(rest);
  const source =
    transport === 'oci' ? new LayoutSource(path, tag) : await openArchive(path, store.tempDir('archive'), tag);
  const names = source.names?.() ?? [];
  return { source, names: names.map((n) => formatReference(parseReference(n))) };
}

/** `DIR:REF` -> [DIR, REF], split at the first colon as containers/image does (REF may hold colons). */
function splitPathTag(rest: string): [string, string | undefined] {
  const colon = rest.indexOf(':');
  return colon >= 0 ? [rest.slice(0, colon), rest.slice(colon + 1)] : [rest, undefined];
}
