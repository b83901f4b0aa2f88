// containers.conf's keys under `hutch run`'s flags: a file named by CONTAINERS_CONF (as podman
// users point at theirs), then the same run with the flags that override each key.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { requires } from '../helpers/host.js';
import { containerTest } from '../helpers/container-test.js';

const t = containerTest();
beforeAll(() => requires('userns', 'subuid', 'newuidmap', 'busybox'));

function config(): NodeJS.ProcessEnv {
  const file = join(t.box.dir, 'containers.conf');
  mkdirSync(join(t.box.dir, 'vol'));
  writeFileSync(join(t.box.dir, 'vol', 'mark'), 'from the volume\n');
  writeFileSync(
    file,
    `[containers]
env = ["FROM_CONF=1", "OVERRIDDEN=conf"]
dns_servers = ["192.0.2.53"]
dns_searches = ["conf.example"]
default_ulimits = ["nofile=500:600", "nproc=300:400"]
default_capabilities = ["CHOWN", "KILL"]
volumes = ["${join(t.box.dir, 'vol')}:/confvol:ro"]
userns = "keep-id"
`,
  );
  return { ...process.env, CONTAINERS_CONF: file };
}

const SCRIPT =
  'echo $FROM_CONF $OVERRIDDEN; grep -E "^(nameserver|search)" /etc/resolv.conf; ulimit -n; ulimit -u; grep CapEff /proc/self/status; cat /confvol/mark; id -u';

it('takes env, DNS, ulimits, capabilities, volumes and userns from containers.conf', async () => {
  const r = await t.sh(SCRIPT, ['--network', 'none'], { env: config() });
  expect(r.stderr).toBe('');
  // keep-id: the test user's own uid inside, which holds no capability (the set shows below, as root).
  expect(String(r.stdout)).toBe(
    `1 conf\nsearch conf.example\nnameserver 192.0.2.53\n500\n300\nCapEff:\t0000000000000000\nfrom the volume\n${process.getuid!()}`,
  );
});

it('lets the flags override each key', async () => {
  const r = await t.sh(
    SCRIPT,
    [
      '--network',
      'none',
      '-e',
      'OVERRIDDEN=flag',
      '--dns',
      '192.0.2.1',
      '--dns-search',
      'flag.example',
      '--ulimit',
      'nofile=700:800',
      '--cap-add',
      'NET_RAW',
      '--userns',
      'auto',
    ],
    { env: config() },
  );
  expect(r.stderr).toBe('');
  // containers.conf's CHOWN (bit 0) and KILL (5), with --cap-add's NET_RAW (13).
  expect(String(r.stdout)).toBe(
    '1 flag\nsearch flag.example\nnameserver 192.0.2.1\n700\n300\nCapEff:\t0000000000002021\nfrom the volume\n0',
  );
});

it('names the file and key of a value it cannot use', async () => {
  const file = join(t.box.dir, 'bad.conf');
  writeFileSync(file, '[containers]\ndns_servers = "192.0.2.53"\n');
  const r = await t.sh('true', [], { env: { ...process.env, CONTAINERS_CONF: file } });
  expect(r.exitCode).toBe(125);
  expect(String(r.stderr)).toContain(`${file}: containers.dns_servers must be an array of strings`);
});
