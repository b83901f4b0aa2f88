/**
 * Every mount, child, fd and temporary directory joins a Cleanup when it is created; `release`
 * undoes them in reverse order, running every step even when one fails, so an error half-way
 * through a run leaves nothing behind.
 */
export class Cleanup {
  private readonly steps: { what: string; undo: () => unknown }[] = [];
  private released = false;

  /** Registers `undo` (named for error reports) to run at release, before anything added earlier. */
  add(what: string, undo: () => unknown): void {
    if (this.released) throw new Error(`cleanup already released; cannot add ${what}`);
    this.steps.push({ what, undo });
  }

  /** Runs every step in reverse order; returns the failures (it never throws). */
  async release(): Promise<{ what: string; error: unknown }[]> {
    this.released = true;
    const failures: { what: string; error: unknown }[] = [];
    for (let step = this.steps.pop(); step !== undefined; step = this.steps.pop()) {
      try {
        await step.undo();
      } catch (error) {
        failures.push({ what: step.what, error });
      }
    }
    return failures;
  }
}
