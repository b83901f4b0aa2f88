import { UsageError } from '../errors.js';
import { namespaceOf, type Spec } from './spec.js';
import type { FsStep } from './fs-step.js';

/** The IPC-namespaced sysctls runc accepts (besides fs.mqueue.*). */
const IPC_SYSCTLS = [
  'kernel.msgmax',
  'kernel.msgmnb',
  'kernel.msgmni',
  'kernel.sem',
  'kernel.shmall',
  'kernel.shmmax',
  'kernel.shmmni',
  'kernel.shm_rmid_forced',
];

/**
 * linux.sysctl as filesystem steps writing /proc/sys inside the container (after its mounts, before
 * the read-only paths, as runc orders them). Only what a namespace of the container's own scopes
 * is accepted, as runc does: kernel.msg*, shm*, sem and fs.mqueue.* with an ipc namespace, net.*
 * with a network namespace, kernel.hostname/domainname with a uts one; anything else would reach
 * the host's settings and is refused, naming the key. Pure.
 */
export function sysctlSteps(spec: Spec): FsStep[] {
  return Object.entries(spec.linux?.sysctl ?? {}).map(([key, value]) => {
    const normal = key.replace(/\//g, '.');
    const need = namespaceFor(normal);
    if (need === undefined) throw refuse(key, 'it is not namespaced: it would change the host');
    if (namespaceOf(spec, need) === undefined) throw refuse(key, `it needs a ${need} namespace of the container's own`);
    if (!/^[\w-]+(\.[\w:@-]+)+$/.test(normal)) throw refuse(key, 'not a sysctl name');
    return { kind: 'sysctl', key, path: `proc/sys/${normal.replace(/\./g, '/')}`, value: String(value) };
  });
}

function namespaceFor(key: string): 'ipc' | 'network' | 'uts' | undefined {
  if (IPC_SYSCTLS.includes(key) || key.startsWith('fs.mqueue.')) return 'ipc';
  if (key.startsWith('net.')) return 'network';
  if (key === 'kernel.hostname' || key === 'kernel.domainname') return 'uts';
  return undefined;
}

function refuse(key: string, why: string): UsageError {
  return new UsageError('SPEC_SYSCTL', `cannot set linux.sysctl ${key}: ${why}`, {
    hint: 'set only namespaced sysctls (net.*, kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*) and give the container that namespace',
  });
}
