/**
 * Monitor: the per-container process of `run -d`, `create` and `start` (conmon's role). It launches
 * the container from its record and setup, reaps it, keeps its log and exit status, restarts it by
 * policy, removes it with --rm, and answers `start` on its control socket; it holds `-i` stdin
 * for `hutch attach`. main.ts is its entry point (a process of its own, src/sys/entry-points.ts).
 * Once the container runs it execs native/hutch-monitor (handover.ts), which execs main.ts again
 * (`finish`, finish.ts) when the container ends.
 *
 * Owns: runMonitor, becomeMonitor (a `run -d` that is its own monitor), MonitorMessage (the line it sends the CLI), GoWord (the line it hears first),
 * holdStdin/sendStdin.
 * May import: engine/launch, engine/spec, engine/setup, engine/store; src/sys, src/errors.ts.
 */
export * from './monitor.js';
export { becomeMonitor } from './here.js';
export * from './record-launch.js';
export * from './stdin-socket.js';
export type { GoWord } from './go-word.js';
