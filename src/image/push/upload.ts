import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { RegistryError } from '../../errors.js';
import type { RegistryClient } from '../registry.js';
import type { PushBlob } from './blobs.js';

/** What happened to one blob: already there (HEAD), mounted from another repository, or uploaded. */
export type BlobOutcome = 'exists' | 'mounted' | 'uploaded';

/**
 * Puts one blob into the client's repository, as the distribution API allows: nothing when a HEAD
 * finds it; a cross-repository mount when one of `mountFrom` (repositories of the same registry
 * that hold it) works; else an upload, monolithic (one PUT) up to `chunkSize` bytes and chunked
 * (PATCHes with Content-Range, then the closing PUT) above.
 */
export async function putBlob(
  client: RegistryClient,
  blob: PushBlob,
  mountFrom: string[],
  chunkSize: number,
  onBytes: (n: number) => void,
): Promise<BlobOutcome> {
  const repo = client.options.repository;
  const what = `blob ${blob.digest} to ${client.options.host}/${repo}`;
  const head = await client.send('HEAD', `/v2/${repo}/blobs/${blob.digest}`, {}, what, [200, 404]);
  if (head.status === 200) return 'exists';
  let started: Response | undefined;
  for (const from of mountFrom.filter((r) => r !== repo)) {
    const res = await client.send(
      'POST',
      `/v2/${repo}/blobs/uploads/?mount=${encodeURIComponent(blob.digest)}&from=${encodeURIComponent(from)}`,
      {},
      what,
      [201, 202],
    );
    if (res.status === 201) return 'mounted';
    started = res; // the registry opened an upload instead
    break;
  }
  started ??= await client.send('POST', `/v2/${repo}/blobs/uploads/`, {}, what, [202]);
  let location = uploadUrl(started, what);
  if (blob.size <= chunkSize) {
    await client.send(
      'PUT',
      withDigest(location, blob.digest),
      { headers: { 'content-type': 'application/octet-stream' }, body: readFileSync(blob.file) },
      what,
      [201],
    );
    onBytes(blob.size);
    return 'uploaded';
  }
  const fd = openSync(blob.file, 'r');
  try {
    for (let offset = 0; offset < blob.size; offset += chunkSize) {
      const chunk = Buffer.alloc(Math.min(chunkSize, blob.size - offset));
      readSync(fd, chunk, 0, chunk.length, offset);
      const headers = {
        'content-type': 'application/octet-stream',
        'content-range': `${offset}-${offset + chunk.length - 1}`,
        'content-length': String(chunk.length),
      };
      location = uploadUrl(await client.send('PATCH', location, { headers, body: chunk }, what, [202]), what);
      onBytes(chunk.length);
    }
  } finally {
    closeSync(fd);
  }
  await client.send('PUT', withDigest(location, blob.digest), {}, what, [201]);
  return 'uploaded';
}

/** The Location of an upload session, absolute (registries may answer with a path). */
function uploadUrl(res: Response, what: string): string {
  const location = res.headers.get('location');
  if (location === null)
    throw new RegistryError('PUSH_HTTP', `cannot push ${what}: the registry gave no upload location`, {
      hint: 'the registry is misbehaving',
    });
  return new URL(location, res.url).href;
}

function withDigest(location: string, digest: string): string {
  const url = new URL(location);
  url.searchParams.set('digest', digest);
  return url.href;
}
