// Named volumes (hutch volume ..., -v NAME:/path) and the other -v / --mount forms: filled from the
// image on first mount, shared by containers at once, kept after rm until `volume rm`, :U and :O.
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { readSubid } from '../../src/userns/subid.js';
import { requires } from '../helpers/host.js';
import { hutch, type Sandbox } from '../helpers/hutch-cli.js';
import { useImageSandbox } from '../helpers/frames.js';

requires('fuse', 'subuid', 'newuidmap', 'busybox');

let box: Sandbox;
const IMAGE = 'localhost/itest';
// --root after the verb (and the subcommand of `volume`).
const h = (args: string[], cwd?: string) => {
  const at = args[0] === 'volume' ? 2 : 1;
  return hutch([...args.slice(0, at), '--root', box.root, ...args.slice(at)], { cwd });
};
const run = (args: string[], cwd?: string) => h(['run', '--network', 'none', ...args], cwd);

useImageSandbox((b) => (box = b));

describe('named volumes', () => {
  it('is filled from the image on first mount, written by one container and read by another after the first was removed', async () => {
    const first = await run([
      '-u',
      '0',
      '-v',
      'vol1:/data',
      IMAGE,
      'sh',
      '-c',
      'ls /data; echo written > /data/added; echo changed > /data/keep',
    ]);
    expect(first.stderr).toBe('');
    expect(first.stdout.split('\n')).toEqual(['keep', 'new']); // layer 2 deleted /data/gone
    const created = await h(['create', '--name', 'holder', '-v', 'vol1:/data', IMAGE, 'true']);
    expect(created.exitCode).toBe(0);
    const refused = await h(['volume', 'rm', 'vol1']);
    expect(refused.exitCode).toBe(125);
    expect(refused.stderr).toContain(
      `hutch: cannot remove volume vol1: it is used by container ${created.stdout.trim().slice(0, 12)}`,
    );
    expect((await h(['rm', '-f', 'holder'])).exitCode).toBe(0);
    const second = await run(['-v', 'vol1:/data', IMAGE, 'sh', '-c', 'cat /data/added /data/keep; ls /data']);
    expect(second.stdout.split('\n')).toEqual(['written', 'changed', 'added', 'keep', 'new']); // not filled again
    const inspect = JSON.parse((await h(['volume', 'inspect', 'vol1'])).stdout) as {
      Name: string;
      Mountpoint: string;
      UsedBy: string[];
    }[];
    expect(inspect[0]).toMatchObject({
      Name: 'vol1',
      Mountpoint: join(box.root, 'data', 'volumes', 'vol1', '_data'),
      UsedBy: [],
    });
    expect(readFileSync(join(inspect[0]!.Mountpoint, 'added'), 'utf8')).toBe('written\n');
    expect((await h(['volume', 'ls', '-q'])).stdout).toBe('vol1');
    expect((await h(['volume', 'rm', 'vol1'])).exitCode).toBe(0);
    expect((await h(['volume', 'ls', '-q'])).stdout).toBe('');
  }, 180_000);

  it('is shared by two containers at once; create, prune and nocopy', async () => {
    expect((await h(['volume', 'create', 'shared'])).stdout).toBe('shared');
    expect((await h(['volume', 'create', 'shared'])).stderr).toContain(
      'hutch: cannot create volume shared: a volume of that name exists',
    );
    const writer = await h([
      'run',
      '-d',
      '--name',
      'writer',
      '--network',
      'none',
      '-u',
      '0',
      '-v',
      'shared:/s',
      IMAGE,
      'sh',
      '-c',
      'echo from-writer > /s/f; sleep 60',
    ]);
    expect(writer.exitCode).toBe(0);
    let read = '';
    for (let i = 0; i < 100 && read !== 'from-writer'; i++) {
      read = (await run(['-v', 'shared:/s', IMAGE, 'cat', '/s/f'])).stdout;
      if (read !== 'from-writer') await sleep(100);
    }
    expect(read).toBe('from-writer');
    expect((await h(['volume', 'prune'])).stdout).toBe(''); // in use
    expect((await h(['rm', '-f', 'writer'])).exitCode).toBe(0);
    const empty = await run([
      '--mount',
      'type=volume,source=fresh,destination=/data,volume-nocopy',
      IMAGE,
      'ls',
      '/data',
    ]);
    expect(empty.stdout).toBe('');
    expect((await h(['volume', 'prune'])).stdout.split('\n').sort()).toEqual(['fresh', 'shared']);
  }, 180_000);
});

describe('-v and --mount forms', () => {
  it('resolves ./ and ../ against the cwd; --mount bind (readonly) and tmpfs', async () => {
    const here = join(box.dir, 'cwd', 'sub');
    mkdirSync(here, { recursive: true });
    writeFileSync(join(box.dir, 'cwd', 'up.txt'), 'up\n');
    const r = await run(
      [
        '-u',
        '0',
        '-v',
        './:/here',
        '-v',
        '../up.txt:/up.txt:ro',
        '--mount',
        'type=bind,src=.,dst=/ro,readonly',
        '--mount',
        'type=tmpfs,destination=/scratch,tmpfs-size=1m',
        IMAGE,
        'sh',
        '-c',
        'echo x > /here/made; cat /up.txt; echo y > /ro/no || echo refused; grep " /scratch " /proc/mounts | cut -d" " -f3',
      ],
      here,
    );
    expect(r.stdout.split('\n')).toEqual(['up', 'refused', 'tmpfs']);
    expect(readFileSync(join(here, 'made'), 'utf8')).toBe('x\n');
  });

  it(':U gives the source to the container user through the namespace; :O writes to a copy', async () => {
    const own = join(box.dir, 'own');
    const over = join(box.dir, 'over');
    mkdirSync(own);
    mkdirSync(over);
    writeFileSync(join(over, 'f'), 'original\n');
    const r = await run(['-u', '1000', '-v', `${own}:/own:U`, IMAGE, 'sh', '-c', 'touch /own/mine && echo ok']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('ok');
    const o = await run(['-u', '0', '-v', `${over}:/over:O`, IMAGE, 'sh', '-c', 'echo changed > /over/f; cat /over/f']);
    expect(o.stdout).toBe('changed');
    const start = readSubid('uid', { name: userInfo().username, id: userInfo().uid })[0]!.start;
    expect(statSync(join(own, 'mine')).uid).toBe(start + 999);
    expect(statSync(own).uid).toBe(start + 999);
    expect(readFileSync(join(over, 'f'), 'utf8')).toBe('original\n');
    expect((await run(['-u', '0', '-v', `${own}:/own:U`, IMAGE, 'true'])).exitCode).toBe(0); // back to the user, for the cleanup
    expect(statSync(join(own, 'mine')).uid).toBe(userInfo().uid);
  });

  it('refuses malformed flags, naming them', async () => {
    const cases: [string[], string][] = [
      [['-v', 'data:relative'], 'hutch: invalid -v data:relative: the destination "relative" is not an absolute path'],
      [['-v', '/tmp:/x:zz'], 'hutch: invalid -v /tmp:/x:zz: unknown option zz'],
      [['--mount', 'type=nfs,dst=/x'], 'hutch: invalid --mount type=nfs,dst=/x: type nfs is not volume, bind or tmpfs'],
      [
        ['--mount', 'type=bind,src=/tmp,dst=/x,colour=red'],
        'hutch: invalid --mount type=bind,src=/tmp,dst=/x,colour=red: unknown key colour',
      ],
      [['-v', 'b@d:/x'], 'hutch: invalid volume name "b@d"'],
    ];
    for (const [flags, message] of cases) {
      const r = await run([...flags, IMAGE, 'true']);
      expect(r.exitCode).toBe(125);
      expect(r.stderr.split('\n')[0]).toBe(message);
    }
    expect((await h(['volume', 'ls', '-q'])).stdout).toBe('');
  });
});
