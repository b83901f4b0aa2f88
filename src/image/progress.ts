/**
 * One line per layer, bytes and rate, redrawn in place on a terminal. `Progress.for` gives none
 * when quiet or when the stream is not a tty, so scripts and logs stay clean.
 */
export class Progress {
  private readonly rows = new Map<string, { total: number; bytes: number; started: number; state: string }>();
  private drawn = 0;
  private timer: NodeJS.Timeout | undefined;

  private constructor(private readonly out: NodeJS.WriteStream) {}

  static for(out: NodeJS.WritableStream, quiet: boolean): Progress | undefined {
    const tty = out as NodeJS.WriteStream;
    return quiet || !tty.isTTY ? undefined : new Progress(tty);
  }

  skip(id: string, total: number): void {
    this.rows.set(id, { total, bytes: total, started: Date.now(), state: 'already present' });
    this.schedule();
  }
  start(id: string, total: number): void {
    this.rows.set(id, { total, bytes: 0, started: Date.now(), state: 'copying' });
    this.schedule();
  }
  advance(id: string, bytes: number): void {
    const row = this.rows.get(id);
    if (row !== undefined) row.bytes += bytes;
    this.schedule();
  }
  done(id: string): void {
    const row = this.rows.get(id);
    if (row !== undefined) row.state = 'done';
    this.schedule();
  }
  /** Draws the final state and stops redrawing. */
  finish(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.draw();
  }

  private schedule(): void {
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.draw();
    }, 100);
  }

  private draw(): void {
    let text = this.drawn > 0 ? `\x1b[${this.drawn}A` : '';
    for (const [id, row] of this.rows) {
      const seconds = Math.max(0.001, (Date.now() - row.started) / 1000);
      const rate = row.state === 'copying' ? ` ${formatBytes(row.bytes / seconds)}/s` : '';
      text += `\x1b[2KCopying blob ${id.slice(7, 19)} ${formatBytes(row.bytes)} / ${formatBytes(row.total)}${rate} ${row.state}\n`;
    }
    this.drawn = this.rows.size;
    this.out.write(text);
  }
}

/** 1536 -> "1.5 KB" (decimal units, as podman prints). */
export function formatBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${i === 0 ? n.toFixed(0) : n.toFixed(n < 10 ? 2 : 1)} ${units[i]}`;
}
