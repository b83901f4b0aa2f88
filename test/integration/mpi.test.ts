// MPI as on a cluster node: the host's launcher (Debian's Open MPI `mpirun`) starts one container
// per rank, `hutch run --rm --pid host --ipc host --network host --userns keep-id`, each rank a
// tiny C program built on the host with mpicc, the host's Open MPI bound into a debootstrapped
// Debian image. Only the shared-memory transport is allowed (btl self,vader; pml ob1: no TCP, no
// UCX), so the allreduce across 4 ranks in 4 containers succeeds only if shared memory does.
import { chmodSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HUTCH, REPO, sandbox, type Sandbox } from '../helpers/hutch-cli.js';
import { importDebian } from '../helpers/debian-image.js';
import { requires } from '../helpers/host.js';
import { expectNoLeaks, leakSnapshot, type LeakSnapshot } from '../helpers/leaks.js';

const IMAGE = 'localhost/debian-mpi';
let box: Sandbox;
let before: LeakSnapshot;

/**
 * The command mpirun starts per rank: the rank's Open MPI/PMIx environment passed by name (`-e
 * NAME` takes hutch's own value), /tmp (Open MPI's session directory and PMIx sockets) and the
 * host's Open MPI libraries and help texts bound in, read-only.
 */
function rankScript(app: string, multiarch: string): string {
  return `#!/bin/bash
args=()
for v in $(env | grep -oE '^(OMPI|PMIX|OPAL|HWLOC)[A-Za-z0-9_]*'); do args+=(-e "$v"); done
exec ${process.execPath} ${HUTCH} run --rm --root ${box.root} --userns keep-id --network host --pid host --ipc host \\
  --hostname "$(hostname)" -v /tmp:/tmp -v ${box.dir}:${box.dir} \\
  -v /usr/lib/${multiarch}:/usr/lib/${multiarch}:ro -v /usr/share/openmpi:/usr/share/openmpi:ro \\
  "\${args[@]}" ${IMAGE} ${app}
`;
}

describe('mpirun -n 4 hutch run ... (Open MPI, one container per rank)', () => {
  beforeAll(async () => {
    requires('userns', 'mpi');
    box = sandbox();
    await importDebian(box.root, IMAGE);
    const app = join(box.dir, 'allreduce');
    await execa('mpicc', ['-O2', '-o', app, join(REPO, 'test', 'fixtures', 'mpi', 'allreduce.c')]);
    const multiarch = (await execa('gcc', ['-print-multiarch'])).stdout.trim(); // x86_64-linux-gnu
    writeFileSync(join(box.dir, 'rank.sh'), rankScript(app, multiarch));
    chmodSync(join(box.dir, 'rank.sh'), 0o755);
  }, 120_000);
  afterAll(() => box?.remove());
  beforeEach(() => void (before = leakSnapshot()));
  afterEach(async () => expectNoLeaks(before, [join(box.root, 'run')]));

  it('an allreduce across 4 ranks over shared memory, each rank in its own container as the user', async () => {
    const r = await execa(
      'mpirun',
      [
        ...['-n', '4', '--oversubscribe'],
        ...['--mca', 'btl', 'self,vader', '--mca', 'pml', 'ob1'],
        // Each container has a user namespace of its own: Open MPI then turns cross-memory attach
        // off itself (with a warning); say so up front. The ranks still share memory segments.
        ...['--mca', 'btl_vader_single_copy_mechanism', 'none'],
        join(box.dir, 'rank.sh'),
      ],
      { reject: false, timeout: 90_000 },
    );
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0);
    const lines = r.stdout
      .split('\n')
      .filter((l) => l.startsWith('rank '))
      .sort();
    expect(lines).toHaveLength(4);
    const pids = new Set<string>();
    lines.forEach((line, i) => {
      const m = /^rank (\d) of 4: sum (\d+) uid (\d+) pid (\d+) host /.exec(line);
      expect(m, line).not.toBeNull();
      expect([m![1], m![2], m![3]]).toEqual([String(i), '10', String(userInfo().uid)]); // 1+2+3+4, as the user
      pids.add(m![4]!);
    });
    expect(pids.size, 'ranks see host pids (--pid host), never each pid 1').toBe(4);
  }, 120_000); // four containers started at once on a loaded 2-core machine
});
