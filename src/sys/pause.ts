/**
 * A short sleep that blocks the thread, for synchronous reads and writes on a non-blocking fd
 * that has nothing yet (or no room yet): the event loop cannot run meanwhile anyway.
 */
export function pauseSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
