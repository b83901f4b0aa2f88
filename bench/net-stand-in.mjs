// Bench helper for bench/net.bench.sh (run as the unprivileged user): a stand-in container (a
// new user+network namespace, as the launch path makes) networked by hutch's net/ module, with
// busybox httpd and then iperf3 -s inside it on published ports.
// With UPLINK_PORT (an iperf3 -s on the host's 127.0.0.1), it also measures the namespace's
// own route to the host (not a published port): iperf3 from inside to the host gateway.
// Prints one JSON line {firstMs, networkMs, iperfPort, uplink?}, then holds until stdin closes.
// Usage: [UPLINK_PORT=N SECS=2] node bench/net-stand-in.mjs NETWORK WWWDIR
import { execa } from 'execa';
import { mkdtempSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import http from 'node:http';

const repo = new URL('..', import.meta.url).pathname;
const net = await import(join(repo, 'dist/net/index.js'));
const { Cleanup } = await import(join(repo, 'dist/src/sys/cleanup.js'));
const [network = 'slirp4netns', www = '/tmp'] = process.argv.slice(2);

const t0 = performance.now();
const cleanup = new Cleanup();
const runDir = mkdtempSync(join(tmpdir(), 'hutch-net-bench-'));
const ports = await net.reservePorts([net.parsePublish('127.0.0.1::8080'), net.parsePublish('127.0.0.1::5201')]);
const holder = execa('unshare', ['--user', '--map-root-user', '--net', 'sleep', 'infinity'], {
  reject: false,
  stdio: 'ignore',
});
// the stand-in exists once unshare has made the namespace and exec'd sleep
while (readlinkSync(`/proc/${holder.pid}/ns/net`) === readlinkSync('/proc/self/ns/net'))
  await new Promise((r) => setImmediate(r));
const pid = holder.pid;
const tNet = performance.now();
const info = await net.startNetwork(net.parseNetworkOption(network), { pid, ports, runDir }, cleanup);
const networkMs = performance.now() - tNet;
const inNs = (...cmd) =>
  execa('nsenter', ['-t', String(pid), '-U', '-n', '--preserve-credentials', '--', ...cmd], {
    reject: false,
    stdio: 'ignore',
  });
const httpd = inNs('busybox', 'httpd', '-f', '-p', '8080', '-h', www);
const url = `http://127.0.0.1:${info.ports[0].hostPort}/index.html`;
for (;;) {
  const ok = await new Promise((resolve) =>
    http
      .get(url, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode === 200));
      })
      .on('error', () => resolve(false)),
  );
  if (ok) break;
}
const firstMs = performance.now() - t0;
const uplink = process.env.UPLINK_PORT ? [await throughNetwork([]), await throughNetwork(['-R'])] : undefined;
const iperf = inNs('iperf3', '-s');
console.log(
  JSON.stringify({
    firstMs: Math.round(firstMs),
    networkMs: Math.round(networkMs),
    iperfPort: info.ports[1].hostPort,
    uplink,
  }),
);

/** Gbit/s of iperf3 from the namespace to the host's iperf3 through the host gateway. */
async function throughNetwork(extra) {
  const args = [
    '-t',
    String(pid),
    '-U',
    '-n',
    '--preserve-credentials',
    '--',
    'iperf3',
    '-J',
    '-c',
    info.hostGateway,
    '-p',
    process.env.UPLINK_PORT,
    '-t',
    process.env.SECS ?? '2',
    ...extra,
  ];
  const out = await execa('nsenter', args, { reject: false, timeout: 30_000 });
  try {
    return (JSON.parse(out.stdout).end.sum_received.bits_per_second / 1e9).toFixed(3);
  } catch {
    return 'failed';
  }
}
process.stdin.resume();
process.stdin.on('end', async () => {
  for (const child of [iperf, httpd, holder]) child.kill('SIGKILL');
  await cleanup.release();
  rmSync(runDir, { recursive: true, force: true });
  process.exit(0);
});
