import { UsageError } from '../errors.js';

/** A parsed image reference: `registry/repository[:tag][@digest]`. Pure. */
export interface ImageRef {
  /** Registry host, with port if any (`docker.io`, `localhost:5000`). */
  registry: string;
  /** Repository path (`library/alpine`). */
  repository: string;
  tag: string | undefined;
  digest: string | undefined;
}

export const DOCKER_HUB = 'docker.io';
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;
const HOST = /^(?:[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?$/;

/**
 * Splits `text` into name, tag and digest and reports whether the name carries a registry host.
 * Docker's rule: the first component is a host if it has a dot or a colon or is `localhost`.
 */
export function splitReference(text: string): {
  host: string | undefined;
  path: string;
  tag: string | undefined;
  digest: string | undefined;
} {
  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw badRef(text, `digest ${digest} is not sha256:<64 hex>`);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw badRef(text, `tag ${tag} is invalid`);
  }
  const slash = rest.indexOf('/');
  const first = slash < 0 ? '' : rest.slice(0, slash);
  const hasHost = slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost');
  const host = hasHost ? first : undefined;
  const path = hasHost ? rest.slice(slash + 1) : rest;
  if (host !== undefined && !HOST.test(host)) throw badRef(text, `registry host ${host} is invalid`);
  if (path === '' || !path.split('/').every((c) => COMPONENT.test(c))) {
    throw badRef(text, 'repository names are lower-case letters, digits and separators (. _ __ -)');
  }
  return { host, path, tag, digest };
}

/** True when `text` names no registry (`alpine`, `library/alpine`): a short name. */
export function isShortName(text: string): boolean {
  return splitReference(text).host === undefined;
}

/**
 * Parses a reference with docker's normalisation: no host means `defaultRegistry` (docker.io),
 * where a single component gets `library/`; no tag and no digest means `latest`.
 */
export function parseReference(text: string, defaultRegistry = DOCKER_HUB): ImageRef {
  const { host, path, tag, digest } = splitReference(text);
  const registry = host ?? defaultRegistry;
  const repository = registry === DOCKER_HUB && !path.includes('/') ? `library/${path}` : path;
  return {
    registry: registry === 'index.docker.io' ? DOCKER_HUB : registry,
    repository,
    tag: tag ?? (digest === undefined ? 'latest' : undefined),
    digest,
  };
}

/** The canonical text of a reference: `docker.io/library/alpine:latest`. */
export function formatReference(ref: ImageRef): string {
  let text = `${ref.registry}/${ref.repository}`;
  if (ref.tag !== undefined) text += `:${ref.tag}`;
  if (ref.digest !== undefined) text += `@${ref.digest}`;
  return text;
}

/** The repository name without tag or digest: `docker.io/library/alpine`. */
export function repositoryName(ref: ImageRef): string {
  return `${ref.registry}/${ref.repository}`;
}

/** True for `sha256:<hex>` or a bare hex id prefix of at least 3 characters. */
export function looksLikeId(text: string): boolean {
  return /^(sha256:)?[a-f0-9]{3,64}$/.test(text);
}

function badRef(text: string, why: string): UsageError {
  return new UsageError('IMAGE_REF_INVALID', `invalid image reference ${JSON.stringify(text)}: ${why}`, {
    hint: 'write it as [registry/]repository[:tag][@sha256:digest], e.g. docker.io/library/alpine:3.20',
  });
}
