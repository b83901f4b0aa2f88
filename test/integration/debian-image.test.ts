// A real package manager on the union filesystem: a debootstrap'ed Debian 12 imported as an image,
// and `apt-get install` / `dpkg -i` (upgrade) / `dpkg -r` / `dpkg -P` of a local .deb as the
// container's root on the default (FUSE) storage. dpkg renames over files, keeps hard links, runs
// maintainer scripts that chown, chmod and useradd; the image's layers must not change.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, afterEach, describe, expect, it } from 'vitest';
import { buildDeb, importDebian, layersFingerprint, type DebSpec } from '../helpers/debian-image.js';
import { requires } from '../helpers/host.js';
import { hutch, sandbox, type Sandbox } from '../helpers/hutch-cli.js';
import { expectNoContainerFolders, useLeakCheck } from '../helpers/frames.js';

requires('fuse', 'subuid', 'newuidmap', 'userns');

const IMAGE = 'localhost/debian-test';
const P = '/usr/share/hutch-probe';
let box: Sandbox;
let debs: string;

// cap_net_raw+ep as setcap writes it (VFS_CAP_REVISION_2), as ping's postinst does.
const CAP_NET_RAW = '0100000200200000000000000000000000000000';
// Sets and reads xattrs with nothing but perl-base (minbase has no attr or libcap2-bin).
const XATTR_TOOL = `#!/usr/bin/perl
use strict;
my %nr = (x86_64 => [188, 191], aarch64 => [5, 8]);
my $arch = \`uname -m\`; chomp $arch;
my ($set, $get) = @{$nr{$arch} or die "no syscall numbers for $arch\\n"};
my ($op, $path, $name, $hex) = @ARGV;
if ($op eq 'set') { my $v = pack('H*', $hex); syscall($set, $path, $name, $v, length($v), 0) == 0 or die "setxattr $name: $!\\n"; exit 0; }
my $buf = "\\0" x 256; my $n = syscall($get, $path, $name, $buf, 256);
$n >= 0 or die "getxattr $name: $!\\n"; print unpack('H*', substr($buf, 0, $n)), "\\n";
`;
/** postinst: a system user, chown and chmod of its files, a setgid program with xattrs (user.*, a file capability). */
const postinst = (
  version: string,
): string => `getent passwd hutchsvc >/dev/null || useradd --system --no-create-home --home-dir /var/lib/hutch-probe --shell /usr/sbin/nologin hutchsvc
mkdir -p /var/lib/hutch-probe
echo state > /var/lib/hutch-probe/state
chown -R hutchsvc:hutchsvc /var/lib/hutch-probe
chmod 0750 /var/lib/hutch-probe
chgrp hutchsvc /usr/bin/hutch-probe
chmod 2755 /usr/bin/hutch-probe
hutch-xattr set /usr/bin/hutch-probe user.probe.version ${Buffer.from(version).toString('hex')}
hutch-xattr set /usr/bin/hutch-probe security.capability ${CAP_NET_RAW}`;
const POSTRM = `if [ "$1" = purge ]; then rm -rf /var/lib/hutch-probe; userdel hutchsvc; fi`;

/** Version 1 and 2 of the probe package: 2 rewrites files (hard link kept), drops one, adds one. */
function probe(version: '1.0' | '2.0'): DebSpec {
  const v = version[0];
  const only = version === '1.0' ? 'old-only.txt' : 'new-only.txt';
  return {
    name: 'hutch-probe',
    version,
    files: {
      [`${P.slice(1)}/data.txt`]: `data v${v}\n`,
      [`${P.slice(1)}/${only}`]: `${only}\n`,
      [`${P.slice(1)}/sub/nested.txt`]: 'nested\n',
      [`${P.slice(1)}/empty/`]: '',
      'etc/hutch-probe.conf': `setting=${v}\n`,
      'usr/bin/hutch-probe': `#!/bin/sh\necho probe v${v}\n`,
      'usr/bin/hutch-xattr': XATTR_TOOL,
    },
    hardlinks: { [`${P.slice(1)}/data-hard.txt`]: `${P.slice(1)}/data.txt` },
    symlinks: { [`${P.slice(1)}/data-link`]: 'data.txt' },
    scripts: { postinst: postinst(version), postrm: POSTRM },
    conffiles: ['/etc/hutch-probe.conf'],
  };
}

/** `hutch run` of a shell script in the Debian image as root, with the .debs at /debs. */
const run = (script: string) =>
  hutch([
    'run',
    '--root',
    box.root,
    '--network',
    'none',
    '-v',
    `${debs}:/debs:ro`,
    IMAGE,
    'sh',
    '-c',
    `set -e\n${script}`,
  ]);

/** Prints the state of the installed package, one fact per line. */
const INSPECT = `dpkg-query -W -f='\${Status} \${Version}\\n' hutch-probe
cd ${P}
stat -c '%n %U:%G %a %h' data.txt data-hard.txt /usr/bin/hutch-probe /var/lib/hutch-probe /var/lib/hutch-probe/state
[ "$(stat -c %i data.txt)" = "$(stat -c %i data-hard.txt)" ] && echo same-inode
cat data-hard.txt; readlink data-link; cat data-link; ls; cat /etc/hutch-probe.conf; hutch-probe
getent passwd hutchsvc | cut -d: -f1,7
hutch-xattr get /usr/bin/hutch-probe user.probe.version; hutch-xattr get /usr/bin/hutch-probe security.capability`;

function installed(v: '1' | '2'): string[] {
  const files =
    v === '1'
      ? ['data-hard.txt', 'data-link', 'data.txt', 'empty', 'old-only.txt', 'sub']
      : ['data-hard.txt', 'data-link', 'data.txt', 'empty', 'new-only.txt', 'sub'];
  return [
    `install ok installed ${v}.0`,
    'data.txt root:root 644 2',
    'data-hard.txt root:root 644 2',
    '/usr/bin/hutch-probe root:hutchsvc 2755 1',
    '/var/lib/hutch-probe hutchsvc:hutchsvc 750 2',
    '/var/lib/hutch-probe/state hutchsvc:hutchsvc 644 1',
    'same-inode',
    `data v${v}`,
    'data.txt',
    `data v${v}`,
    ...files,
    `setting=${v}`,
    `probe v${v}`,
    'hutchsvc:/usr/sbin/nologin',
    Buffer.from(`${v}.0`).toString('hex'),
    CAP_NET_RAW,
  ];
}

beforeAll(async () => {
  box = sandbox();
  debs = join(box.dir, 'debs');
  mkdirSync(debs);
  buildDeb(debs, probe('1.0'));
  buildDeb(debs, probe('2.0'));
  await importDebian(box.root, IMAGE);
}, 180_000);
afterAll(() => box?.remove());
useLeakCheck(() => box.root);
afterEach(() => expectNoContainerFolders(box.root));

describe('a debootstrapped Debian image on the union filesystem', () => {
  it('installs, upgrades, removes and purges a local .deb with apt-get and dpkg as root', async () => {
    const layers = layersFingerprint(box.root);
    const r =
      await run(`apt-get install -y /debs/hutch-probe_1.0_all.deb >/tmp/apt.log 2>&1 || { cat /tmp/apt.log; exit 1; }
${INSPECT}
echo == upgrade
dpkg -i /debs/hutch-probe_2.0_all.deb >/tmp/dpkg.log 2>&1 || { cat /tmp/dpkg.log; exit 1; }
${INSPECT}
echo == remove
dpkg -r hutch-probe >/tmp/dpkg.log 2>&1 || { cat /tmp/dpkg.log; exit 1; }
dpkg-query -W -f='\${Status}\\n' hutch-probe; ls -A ${P} 2>&1 || true; test ! -e /usr/bin/hutch-probe && echo no-bin
cat /etc/hutch-probe.conf; getent passwd hutchsvc | cut -d: -f1
echo == purge
dpkg -P hutch-probe >/tmp/dpkg.log 2>&1 || { cat /tmp/dpkg.log; exit 1; }
dpkg -s hutch-probe >/dev/null 2>&1 || echo not-installed
test ! -e /etc/hutch-probe.conf && test ! -e /var/lib/hutch-probe && echo purged
getent passwd hutchsvc || echo no-user
dpkg --audit && echo audit-clean`);
    expect(r.stderr).toBe('');
    expect(String(r.stdout).split('\n')).toEqual([
      ...installed('1'),
      '== upgrade',
      ...installed('2'),
      '== remove',
      'deinstall ok config-files',
      `ls: cannot access '${P}': No such file or directory`,
      'no-bin',
      'setting=2',
      'hutchsvc',
      '== purge',
      'not-installed',
      'purged',
      'no-user',
      'audit-clean',
    ]);
    expect(r.exitCode).toBe(0);
    expect(layersFingerprint(box.root), 'the image layers changed').toBe(layers);
  }, 180_000);

  it('gives a second container a fresh image', async () => {
    const layers = layersFingerprint(box.root);
    const first =
      await run(`apt-get install -y /debs/hutch-probe_1.0_all.deb >/tmp/apt.log 2>&1 || { cat /tmp/apt.log; exit 1; }
hutch-probe`);
    expect(first.stderr).toBe('');
    expect(first.stdout).toBe('probe v1');
    const second = await run(`dpkg -s hutch-probe >/dev/null 2>&1 || echo not-installed
test ! -e ${P} && test ! -e /etc/hutch-probe.conf && echo no-files
getent passwd hutchsvc || echo no-user
dpkg --audit && echo audit-clean`);
    expect(second.stderr).toBe('');
    expect(second.stdout.split('\n')).toEqual(['not-installed', 'no-files', 'no-user', 'audit-clean']);
    expect(layersFingerprint(box.root)).toBe(layers);
  }, 180_000);
});
