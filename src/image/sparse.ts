import { ftruncateSync, writeSync } from 'node:fs';

/**
 * GNU sparse files in PAX form, as GNU tar writes them with --sparse. Format 0.1 puts the map
 * in the `GNU.sparse.map` record ("offset,size,..."); format 1.0 puts it at the start of the
 * entry's data (a count, then offset and size lines, padded to 512 bytes). In both, the data is
 * the non-hole chunks one after another; the file's real name and size are in other records.
 */
export interface SparseInfo {
  name: string;
  realSize: number;
  /** undefined for format 1.0 until the map has been read from the data. */
  map: [number, number][] | undefined;
}

/** The sparse description of an entry, or undefined when it is not sparse. */
export function sparseInfo(pax: Record<string, string>): SparseInfo | undefined {
  const major = pax['GNU.sparse.major'];
  const name = pax['GNU.sparse.name'];
  const realSize = Number(pax['GNU.sparse.realsize'] ?? pax['GNU.sparse.size']);
  if (major === undefined && pax['GNU.sparse.map'] === undefined) return undefined;
  if (name === undefined || !Number.isSafeInteger(realSize))
    throw new Error('a sparse entry lacks GNU.sparse.name or its real size');
  if (major === '1') return { name, realSize, map: undefined };
  const numbers = (pax['GNU.sparse.map'] ?? '')
    .split(',')
    .filter((n) => n !== '')
    .map(Number);
  return { name, realSize, map: pairs(numbers) };
}

/** Writes the data of a sparse entry at the right offsets of `fd`. */
export class SparseWriter {
  private header: Buffer | undefined;
  private chunk = 0;
  private done = 0;

  constructor(private readonly info: SparseInfo) {
    if (info.map === undefined) this.header = Buffer.alloc(0);
  }

  write(fd: number, data: Buffer): void {
    let rest = data;
    if (this.header !== undefined) {
      this.header = Buffer.concat([this.header, rest]);
      const parsed = parseMapBlock(this.header);
      if (parsed === undefined) return;
      this.info.map = parsed.map;
      rest = this.header.subarray(parsed.length);
      this.header = undefined;
    }
    const map = this.info.map!;
    while (rest.length > 0 && this.chunk < map.length) {
      const [offset, size] = map[this.chunk]!;
      const n = Math.min(size - this.done, rest.length);
      writeSync(fd, rest, 0, n, offset + this.done);
      rest = rest.subarray(n);
      this.done += n;
      if (this.done === size) {
        this.chunk++;
        this.done = 0;
      }
    }
  }

  /** Gives the file its real size: the holes at the end are never written. */
  finish(fd: number): void {
    ftruncateSync(fd, this.info.realSize);
  }
}

/** Parses a 1.0 map block once it is complete; returns its padded length. */
function parseMapBlock(buf: Buffer): { map: [number, number][]; length: number } | undefined {
  const lines: number[] = [];
  let start = 0;
  for (let i = 0; i < buf.length; i++) {
    if (buf[i] !== 0x0a) continue;
    lines.push(Number(buf.toString('latin1', start, i)));
    start = i + 1;
    const count = lines[0]!;
    if (!Number.isSafeInteger(count) || count < 0 || count > 1 << 20)
      throw new Error('a sparse map has an invalid entry count');
    if (lines.length !== 1 + 2 * count) continue;
    const length = Math.ceil(start / 512) * 512;
    return buf.length >= length ? { map: pairs(lines.slice(1)), length } : undefined;
  }
  if (buf.length > 64 << 20) throw new Error('a sparse map is too long');
  return undefined;
}

function pairs(numbers: number[]): [number, number][] {
  if (numbers.length % 2 !== 0 || numbers.some((n) => !Number.isSafeInteger(n) || n < 0))
    throw new Error('a sparse map is malformed');
  const out: [number, number][] = [];
  for (let i = 0; i < numbers.length; i += 2) out.push([numbers[i]!, numbers[i + 1]!]);
  return out;
}
