// src/security/seccomp/precompiled.ts: a plain run's seccomp filter is read from a file the build
// wrote, listed in its index with the whole profile; the file's bytes are compileSeccomp's, and a
// profile that differs in anything, or a file that is not a whole filter, is compiled.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { adjustCapabilities, blueprintSecurity } from '../../../src/engine/spec/blueprint.js';
import { capabilityName, DEFAULT_CAPABILITIES, PLAIN_RUN_CAPABILITY_SETS } from '../../../src/runtime/linux.js';
import { compileSeccomp, nativeArch } from '../../../src/security/seccomp/index.js';
import { kernelSpan, resolveProfile, type Profile, type ProfileRule } from '../../../src/security/seccomp/profile.js';
import {
  precompiledFile,
  precompiledProfiles,
  seccompProgram,
  writePrecompiled,
} from '../../../src/security/seccomp/precompiled.js';

let dir: string;
beforeEach(() => void (dir = mkdtempSync(join(tmpdir(), 'hutch-seccomp-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** The linux.seccomp of a plain run with these default capabilities (blueprint.ts's path). */
const plainRun = (defaults: readonly string[]) =>
  blueprintSecurity({}, adjustCapabilities(defaults.map(capabilityName), [], [])).seccomp!;

describe('the precompiled seccomp filters', () => {
  it('are the bytes compileSeccomp makes of each profile', () => {
    const names = writePrecompiled(dir, PLAIN_RUN_CAPABILITY_SETS);
    expect(names.length).toBe(precompiledProfiles(PLAIN_RUN_CAPABILITY_SETS).length);
    expect(readdirSync(dir).sort()).toEqual([...names, 'seccomp-filters.json', 'seccomp-filters.txt'].sort());
    // The C front's list (native/run-front-conf.c): arch, the kernels that resolve the default
    // profile alike (it has no minKernel rule: all), file, capability set.
    expect(readFileSync(join(dir, 'seccomp-filters.txt'), 'utf8')).toBe(
      names.map((n, i) => `${nativeArch().name} 0.0- ${n} ${PLAIN_RUN_CAPABILITY_SETS[i]!.join(',')}\n`).join(''),
    );
    for (const profile of precompiledProfiles(PLAIN_RUN_CAPABILITY_SETS)) {
      const file = readFileSync(join(dir, precompiledFile(profile, nativeArch(), dir)!));
      expect(Buffer.compare(file, Buffer.from(compileSeccomp(profile).program))).toBe(0);
      expect(seccompProgram(profile, nativeArch(), [], dir)).toEqual({ program: file, flags: 0 });
    }
  });

  it("hold a plain run's profile, with docker's capabilities and with containers-common's", () => {
    const names = writePrecompiled(dir, PLAIN_RUN_CAPABILITY_SETS);
    expect(names).toContain(precompiledFile(plainRun(DEFAULT_CAPABILITIES), nativeArch(), dir));
    const common = ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'NET_BIND_SERVICE', 'SETFCAP', 'SETGID'];
    expect(names).toContain(
      precompiledFile(plainRun([...common, 'SETPCAP', 'SETUID', 'SYS_CHROOT']), nativeArch(), dir),
    );
  });

  it('are read from the file the index names for the profile', () => {
    writePrecompiled(dir, PLAIN_RUN_CAPABILITY_SETS);
    const [profile] = precompiledProfiles(PLAIN_RUN_CAPABILITY_SETS);
    const planted = Buffer.alloc(16, 7); // two instructions: proves the file is what is read
    writeFileSync(join(dir, precompiledFile(profile!, nativeArch(), dir)!), planted);
    expect(Buffer.compare(seccompProgram(profile!, nativeArch(), [], dir).program, planted)).toBe(0);
  });

  it('compile a profile that differs, a file that is not a whole filter, and a notifying filter', () => {
    writePrecompiled(dir, PLAIN_RUN_CAPABILITY_SETS);
    const [profile] = precompiledProfiles(PLAIN_RUN_CAPABILITY_SETS);
    const admin = plainRun([...DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN']);
    expect(precompiledFile(admin, nativeArch(), dir)).toBeUndefined();
    expect(seccompProgram(admin, nativeArch(), [], dir)).toEqual(compileSeccomp(admin));
    writeFileSync(join(dir, precompiledFile(profile!, nativeArch(), dir)!), Buffer.alloc(13));
    expect(seccompProgram(profile!, nativeArch(), [], dir)).toEqual(compileSeccomp(profile!));
    const notify = ['chown'];
    expect(seccompProgram(profile!, nativeArch(), notify, dir)).toEqual(compileSeccomp(profile!, nativeArch(), notify));
  });

  it('are found by the whole profile, for this arch only, and not at all without an index', () => {
    const [profile] = precompiledProfiles(PLAIN_RUN_CAPABILITY_SETS);
    expect(precompiledFile(profile!, nativeArch(), dir)).toBeUndefined(); // nothing built yet
    writePrecompiled(dir, PLAIN_RUN_CAPABILITY_SETS);
    expect(precompiledFile(profile!, { ...nativeArch(), name: 'SCMP_ARCH_OTHER' }, dir)).toBeUndefined();
    // One rule's action changed: another profile, whatever a digest of it would say.
    const changed = {
      ...profile!,
      syscalls: profile!.syscalls!.map((r, i) => (i === 0 ? { ...r, action: 'SCMP_ACT_LOG' } : r)),
    };
    expect(precompiledFile(changed, nativeArch(), dir)).toBeUndefined();
  });
});

describe('the kernels that resolve a profile alike (kernelSpan)', () => {
  const rule = (minKernel?: string): ProfileRule => ({
    names: ['x'],
    action: 'SCMP_ACT_ALLOW',
    ...(minKernel === undefined ? {} : { includes: { minKernel } }),
  });
  const profile: Profile = {
    defaultAction: 'SCMP_ACT_ERRNO',
    syscalls: [rule('5.8'), rule(), rule('4.14'), rule('5.8'), rule('6.3')],
  };

  it('run from the highest minKernel reached to the next one, by major.minor alone', () => {
    expect(kernelSpan(profile, '4.9.0-1-amd64')).toEqual({ from: '0.0', below: '4.14' });
    expect(kernelSpan(profile, '4.14.0')).toEqual({ from: '4.14', below: '5.8' });
    expect(kernelSpan(profile, '5.10.0-30-amd64')).toEqual({ from: '5.8', below: '6.3' });
    expect(kernelSpan(profile, '6.18.44-fc')).toEqual({ from: '6.3' });
    expect(kernelSpan({ defaultAction: 'SCMP_ACT_ERRNO' }, release())).toEqual({ from: '0.0' });
  });

  it('hold kernels that resolve the profile as the given one does, and no other', () => {
    const caps: string[] = [];
    const at = (kernel: string) => JSON.stringify(resolveProfile(profile, { caps, arch: nativeArch(), kernel }));
    for (const kernel of ['4.9.0', '4.14.1', '5.7.9', '5.8.0', '6.2.16', '6.3.0', '6.18.44-fc']) {
      const { from, below } = kernelSpan(profile, kernel);
      expect(at(`${from}.0`)).toBe(at(kernel));
      if (below !== undefined) expect(at(`${below}.0`)).not.toBe(at(kernel));
    }
  });
});
