// Resident memory of the runtime's processes a container leaves (bench/cost.bench.sh): every
// descendant of HOLDER (a `cost-reap -h` subreaper that ran the `run -d` commands, so that what
// detaches is reparented to it) in the host's pid namespace: the container's own processes
// (their own pid namespace), what was there before (podman's pause process) and other users of
// the machine are left out. Prints one JSON line: pss and rss in KiB, summed, and each process
// with its name (node processes named by their hutch entry).
// Usage (as root): node cost-mem.mjs HOLDER_PID
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

const holder = process.argv[2];
const hostPidNs = readlinkSync('/proc/self/ns/pid');
const entries = ['monitor', 'fuseDaemon', 'forwarder', 'cli', 'upperReader'];

function read(path) {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function field(text, name) {
  const match = new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text ?? '');
  return match ? Number(match[1]) : 0;
}

function nameOf(pid) {
  const comm = (read(`/proc/${pid}/comm`) ?? '?').trim();
  const argv = (read(`/proc/${pid}/cmdline`) ?? '').split('\0').filter(Boolean);
  if (comm !== 'node' && !comm.startsWith('MainThread')) return comm;
  const entry = argv.find((a) => entries.includes(a)) ?? argv.find((a) => /(main|child)\.js$/.test(a));
  return `node:${entry ?? argv.slice(1).join(' ').slice(0, 40)}`;
}

/** Every descendant of `root`, from each process's parent in /proc/PID/status. */
function descendants(root) {
  const children = new Map();
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    const parent = String(field(read(`/proc/${pid}/status`), 'PPid'));
    children.set(parent, [...(children.get(parent) ?? []), pid]);
  }
  const found = [];
  const todo = [root];
  while (todo.length > 0) {
    const kids = children.get(todo.pop()) ?? [];
    found.push(...kids);
    todo.push(...kids);
  }
  return found;
}

const procs = [];
for (const pid of descendants(holder)) {
  const status = read(`/proc/${pid}/status`);
  try {
    if (readlinkSync(`/proc/${pid}/ns/pid`) !== hostPidNs) continue;
  } catch {
    continue;
  }
  const rss = field(status, 'VmRSS');
  if (rss === 0) continue; // a zombie or a kernel thread
  procs.push({ pid: Number(pid), name: nameOf(pid), pss: field(read(`/proc/${pid}/smaps_rollup`), 'Pss'), rss });
}
const sum = (key) => procs.reduce((total, p) => total + p[key], 0);
console.log(JSON.stringify({ pss: sum('pss'), rss: sum('rss'), procs }));
