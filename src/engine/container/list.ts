import { readFileSync } from 'node:fs';
import { processTree } from '../../sys/proc.js';
import { removeContainer } from './lifecycle.js';
import { listIds, viewContainer, type ContainerStore, type ContainerView } from '../store/index.js';

/**
 * Every container's view, newest first; records being removed meanwhile are skipped. A --rm
 * container whose monitor died (and so could not remove it) is removed here: --rm holds
 * whichever way the container ended.
 */
export async function listContainers(store: ContainerStore): Promise<ContainerView[]> {
  const views: ContainerView[] = [];
  for (const id of listIds(store)) {
    try {
      const view = viewContainer(store, id);
      if (view.config.autoRemove && view.state.status === 'stopped') await removeContainer(store, id, true);
      else views.push(view);
    } catch {
      // removed while we listed
    }
  }
  return views.sort((a, b) => b.config.created.localeCompare(a.config.created));
}

/** podman's STATUS column: "Up 5 seconds", "Exited (0) 2 minutes ago", "Created". */
export function statusText(view: ContainerView, now = Date.now()): string {
  const s = view.state;
  if (s.status === 'running') return `Up ${ago(s.startedAt, now)}`;
  if (s.status === 'paused') return `Up ${ago(s.startedAt, now)} (paused)`;
  if (s.status === 'created' || s.status === 'creating') return s.status === 'created' ? 'Created' : 'Creating';
  if (s.startedAt === undefined && s.finishedAt === undefined) return 'Created';
  return `Exited (${s.exitCode ?? -1}) ${ago(s.finishedAt, now)} ago`;
}

/** "About a minute", "5 seconds": podman's human durations. */
export function ago(iso: string | undefined, now = Date.now()): string {
  if (iso === undefined) return 'a moment';
  const sec = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (sec < 1) return 'Less than a second';
  if (sec < 60) return `${sec} second${sec === 1 ? '' : 's'}`;
  const min = Math.round(sec / 60);
  if (min < 60) return min === 1 ? 'About a minute' : `${min} minutes`;
  const h = Math.round(min / 60);
  if (h < 48) return h === 1 ? 'About an hour' : `${h} hours`;
  return `${Math.round(h / 24)} days`;
}

/** The container's processes: its PID 1 and every descendant, with uid and command line. */
export function containerProcesses(pid: number): { pid: number; ppid: number; uid: number; args: string }[] {
  const out: { pid: number; ppid: number; uid: number; args: string }[] = [];
  for (const p of processTree(pid)) {
    try {
      const uid = Number(/\nUid:\t(\d+)/.exec(readFileSync(`/proc/${p.pid}/status`, 'utf8'))?.[1] ?? -1);
      out.push({
        ...p,
        uid,
        args: readFileSync(`/proc/${p.pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' '),
      });
    } catch {
      // exited while we looked
    }
  }
  return out;
}
