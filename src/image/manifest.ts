import { RegistryError } from '../errors.js';
import { crypto } from '../sys/on-use.js';

/** Media types of the OCI image spec and Docker's schema 2. */
export const MediaType = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

export const MANIFEST_ACCEPT = [
  MediaType.ociIndex,
  MediaType.ociManifest,
  MediaType.dockerList,
  MediaType.dockerManifest,
].join(', ');

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
}
export interface ImageManifest {
  schemaVersion: 2;
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
}
export interface ImageIndex {
  schemaVersion: 2;
  mediaType: string;
  manifests: Descriptor[];
}
/** The parts of an OCI image config hutch reads. */
export interface ImageConfig {
  architecture?: string;
  os?: string;
  created?: string;
  config?: {
    User?: string;
    Env?: string[];
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    WorkingDir?: string;
    ExposedPorts?: Record<string, object>;
    Volumes?: Record<string, object>;
    Labels?: Record<string, string>;
    StopSignal?: string;
    /** docker's: SHELL of a build, and HEALTHCHECK (hutch build stores both, as buildah's docker format). */
    Shell?: string[];
    Healthcheck?: { Test: string[]; Interval?: number; Timeout?: number; StartPeriod?: number; Retries?: number };
  };
  rootfs: { type: string; diff_ids: string[] };
  history?: unknown[];
}

export function sha256(data: Uint8Array | string): string {
  // A run of a stored image uses this module's types and parsers and hashes nothing.
  return `sha256:${crypto().createHash('sha256').update(data).digest('hex')}`;
}

/** Parses a manifest or index fetched from `where`; throws a RegistryError on anything else. */
export function parseManifest(raw: Buffer, where: string, contentType?: string): ImageManifest | ImageIndex {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
  } catch (error) {
    throw new RegistryError('MANIFEST_INVALID', `invalid manifest from ${where}: not JSON`, {
      cause: error,
      hint: 'the source is not an OCI or Docker schema 2 image',
    });
  }
  const mediaType = typeof doc.mediaType === 'string' ? doc.mediaType : (contentType?.split(';')[0] ?? '');
  if (Array.isArray(doc.manifests))
    return {
      schemaVersion: 2,
      mediaType: mediaType || MediaType.ociIndex,
      manifests: doc.manifests.map((d) => descriptor(d, where)),
    };
  if (doc.schemaVersion === 2 && doc.config !== undefined && Array.isArray(doc.layers)) {
    return {
      schemaVersion: 2,
      mediaType: mediaType || MediaType.ociManifest,
      config: descriptor(doc.config, where),
      layers: doc.layers.map((d) => descriptor(d, where)),
    };
  }
  throw new RegistryError(
    'MANIFEST_UNSUPPORTED',
    `unsupported manifest from ${where} (schema ${String(doc.schemaVersion)}, ${mediaType || 'no media type'})`,
    {
      hint: 'hutch reads OCI images and Docker schema 2; convert older images with `skopeo copy`',
    },
  );
}

export function isIndex(m: ImageManifest | ImageIndex): m is ImageIndex {
  return 'manifests' in m;
}

/** Parses an image config; checks that it lists one diff id per layer. */
export function parseConfig(raw: Buffer, where: string, layerCount: number): ImageConfig {
  let doc: ImageConfig;
  try {
    doc = JSON.parse(raw.toString('utf8')) as ImageConfig;
  } catch (error) {
    throw new RegistryError('CONFIG_INVALID', `invalid image config from ${where}: not JSON`, { cause: error });
  }
  if (doc?.rootfs === undefined || !Array.isArray(doc.rootfs.diff_ids) || doc.rootfs.diff_ids.length !== layerCount) {
    throw new RegistryError(
      'CONFIG_INVALID',
      `invalid image config from ${where}: rootfs.diff_ids does not list the ${layerCount} layers of the manifest`,
    );
  }
  for (const id of doc.rootfs.diff_ids) checkDigest(id, where);
  return doc;
}

/** The platform of this host in OCI terms. */
export function hostPlatform(): Platform {
  const arch: Record<string, string> = {
    x64: 'amd64',
    arm64: 'arm64',
    arm: 'arm',
    ia32: '386',
    ppc64: 'ppc64le',
    s390x: 's390x',
    riscv64: 'riscv64',
  };
  const p: Platform = { os: 'linux', architecture: arch[process.arch] ?? process.arch };
  if (process.arch === 'arm') p.variant = 'v7';
  return p;
}

/** Parses `os/arch[/variant]`. */
export function parsePlatform(text: string): Platform {
  const [os, architecture, variant] = text.split('/');
  if (!os || !architecture)
    throw new RegistryError('PLATFORM_INVALID', `invalid platform ${JSON.stringify(text)}`, {
      hint: 'write it as os/arch[/variant], e.g. linux/amd64',
    });
  return variant ? { os, architecture, variant } : { os, architecture };
}

export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

/** Picks the manifest for `want` from an index; the error lists what the index offers. */
export function choosePlatform(index: ImageIndex, want: Platform, where: string): Descriptor {
  const images = index.manifests.filter(
    (d) => d.platform !== undefined && d.annotations?.['vnd.docker.reference.type'] !== 'attestation-manifest',
  );
  const match = images.find(
    (d) =>
      d.platform!.os === want.os &&
      d.platform!.architecture === want.architecture &&
      (want.variant === undefined || d.platform!.variant === want.variant),
  );
  if (match !== undefined) return match;
  if (images.length === 0 && index.manifests.length === 1) return index.manifests[0]!;
  const offered = images.map((d) => formatPlatform(d.platform!)).join(', ') || 'none';
  throw new RegistryError(
    'PLATFORM_NOT_FOUND',
    `no image for platform ${formatPlatform(want)} in ${where}; available: ${offered}`,
    {
      hint: 'choose one of the available platforms with --platform',
    },
  );
}

export function checkDigest(digest: string, where: string): void {
  if (!/^sha256:[a-f0-9]{64}$/.test(digest)) {
    throw new RegistryError('DIGEST_INVALID', `invalid digest ${JSON.stringify(digest)} in ${where}`, {
      hint: 'hutch supports sha256 digests only',
    });
  }
}

function descriptor(value: unknown, where: string): Descriptor {
  const d = value as Descriptor;
  if (typeof d !== 'object' || d === null || typeof d.digest !== 'string' || typeof d.size !== 'number' || d.size < 0) {
    throw new RegistryError('MANIFEST_INVALID', `invalid manifest from ${where}: a descriptor lacks digest or size`);
  }
  checkDigest(d.digest, where);
  return d;
}
