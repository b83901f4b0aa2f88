// Resident memory of the runtime's processes a container leaves (bench/cost.bench.sh): every
// process of UID in the host's pid namespace that is not in the BEFORE list (pids, one a line),
// so the container's own processes (their own pid namespace) and processes that were there
// before (podman's pause process) are left out. Prints one JSON line: pss and rss in KiB, summed,
// and each process with its name (node processes named by their hutch entry).
// Usage (as root): node cost-mem.mjs UID BEFORE_FILE
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

const [uid, beforeFile] = process.argv.slice(2);
const before = new Set(readFileSync(beforeFile, 'utf8').split(/\s+/).filter(Boolean));
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

const procs = [];
for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
  if (before.has(pid)) continue;
  const status = read(`/proc/${pid}/status`);
  if (status === undefined || !new RegExp(`^Uid:\\s+${uid}\\s`, 'm').test(status)) continue;
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
