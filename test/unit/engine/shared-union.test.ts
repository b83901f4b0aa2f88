// Where the shared union daemon of a store and id maps listens (src/engine/setup/shared-union.ts).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { sharedPlace } from '../../../src/engine/setup/shared-union.js';

const maps = (host: number) => ({
  uidMappings: [
    { containerID: 0, hostID: 1000, size: 1 },
    { containerID: 1, hostID: host, size: 65536 },
  ],
  gidMappings: [{ containerID: 0, hostID: 1000, size: 1 }],
});

describe('sharedPlace', () => {
  it('one socket per store and maps, in RUN/fsd, with its lock and log beside it', () => {
    const place = sharedPlace('/run/user/1000/hutch', maps(100000))!;
    expect(place.socket).toMatch(/^\/run\/user\/1000\/hutch\/fsd\/[0-9a-f]{16}$/);
    expect(place.lock).toBe(`${place.socket}.lock`);
    expect(place.log).toBe(`${place.socket}.log`);
    expect(sharedPlace('/run/user/1000/hutch', maps(100000))).toEqual(place);
    expect(sharedPlace('/run/user/1000/hutch', maps(200000))!.socket).not.toBe(place.socket);
    expect(sharedPlace('/tmp/other', maps(100000))!.socket.startsWith('/tmp/other/fsd/')).toBe(true);
  });

  it('one daemon per cgroup of the runs that start it: a job or session ending takes only its own', () => {
    const job = (n: number) => `0::/system.slice/slurmstepd.scope/job_${n}/step_0/user/task_0\n`;
    const first = sharedPlace('/run/user/1000/hutch', maps(100000), job(1))!;
    expect(sharedPlace('/run/user/1000/hutch', maps(100000), job(1))).toEqual(first);
    expect(sharedPlace('/run/user/1000/hutch', maps(100000), job(2))!.socket).not.toBe(first.socket);
    // this process's own by default
    expect(sharedPlace('/run/user/1000/hutch', maps(100000))).toEqual(
      sharedPlace('/run/user/1000/hutch', maps(100000), readFileSync('/proc/self/cgroup', 'utf8')),
    );
  });

  it('none where the socket path would not fit sun_path (108 bytes): a daemon per container then', () => {
    expect(sharedPlace(`/tmp/${'x'.repeat(90)}`, maps(100000))).toBeUndefined();
  });
});
