// What the union daemon's counting receive (native/fs-idle.c) adds per request: koffi -> libfuse's
// fuse_session_receive_buf against koffi -> hutch_fs_receive_buf -> libfuse's, on a session that is
// not mounted and has exited (one read(2) of fd -1, then 0, nothing said), in alternating blocks.
// Prints the median CPU ns per call of each. Usage (after npm run build): node bench/fs-receive.mjs
import { join } from 'node:path';
import koffi from 'koffi';

const lib = koffi.load('libfuse3.so.3');
koffi.struct('bench_fuse_args', { argc: 'int', argv: 'char **', allocated: 'int' });
const sessionNew = lib.func('void *fuse_session_new(bench_fuse_args *args, void *ops, size_t size, void *data)');
const se = sessionNew({ argc: 1, argv: ['bench'], allocated: 0 }, Buffer.alloc(352), 352, null);
lib.func('void fuse_session_exit(void *se)')(se);
const pages = koffi.load(join(import.meta.dirname, '..', 'native', 'hutch-fs-pages.so'));
if (pages.func('int hutch_fs_pages_init(void)')() !== 0) throw new Error('hutch_fs_pages_init failed');
const calls = {
  libfuse: lib.func('int fuse_session_receive_buf(void *se, void *buf)'),
  counting: pages.func('int hutch_fs_receive_buf(void *se, void *buf)'),
};
const buf = Buffer.alloc(40);
const n = 200_000;
const ns = { libfuse: [], counting: [] };
const cpu = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
for (let round = 0; round < 10; round++) {
  for (const name of round % 2 ? ['counting', 'libfuse'] : ['libfuse', 'counting']) {
    const f = calls[name];
    const c0 = cpu();
    for (let i = 0; i < n; i++) f(se, buf);
    ns[name].push(((cpu() - c0) / n) * 1000);
  }
}
const median = (l) => l.sort((a, b) => a - b)[l.length >> 1].toFixed(0);
console.log(
  `CPU ns per receive call, median of 10 blocks of ${n}: libfuse's ${median(ns.libfuse)}, counting ${median(ns.counting)}`,
);
