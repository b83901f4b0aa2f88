/** What `go` tells a waiting monitor (main.ts, awaitGo; src/sys/waiting-child.cts): its container, store, mode and log. */
export interface GoWord {
  data: string;
  run: string;
  id: string;
  mode: 'create' | 'start';
  /** The container's monitor log: the monitor makes it its stdout and stderr (and so the C waiter's). */
  log: string;
}
