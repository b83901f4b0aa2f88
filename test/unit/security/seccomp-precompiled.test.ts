// src/security/seccomp/precompiled.ts: a plain run's seccomp filter is read from a file the build
// wrote, listed in its index with the whole profile; the file's bytes are compileSeccomp's, and a
// profile that differs in anything, or a file that is not a whole filter, is compiled; any other
// profile is compiled once per build and kept in the user's private cache folder (filter-cache.ts).
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { adjustCapabilities, blueprintSecurity } from '../../../src/engine/spec/blueprint.js';
import { capabilityName, DEFAULT_CAPABILITIES, PLAIN_RUN_CAPABILITY_SETS } from '../../../src/runtime/linux.js';
import { compileSeccomp, nativeArch } from '../../../src/security/seccomp/index.js';
import { filterCacheDir } from '../../../src/security/seccomp/filter-cache.js';
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

describe('the cache of filters compiled at run time (filter-cache.ts)', () => {
  const admin = () => plainRun([...DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN']); // in no build index
  const cacheOf = () => join(dir, 'cache');
  const kept = () => readdirSync(cacheOf()).filter((f) => f.startsWith('seccomp-'));
  beforeEach(() => {
    writePrecompiled(dir, PLAIN_RUN_CAPABILITY_SETS);
    mkdirSync(cacheOf(), { mode: 0o700 });
  });

  it('keeps the compiled bytes of a profile no build lists, and reads them back for the same profile', () => {
    const first = seccompProgram(admin(), nativeArch(), [], dir, cacheOf());
    expect(first).toEqual(compileSeccomp(admin()));
    expect(kept()).toHaveLength(1);
    const file = join(cacheOf(), kept()[0]!);
    const bytes = readFileSync(file);
    const planted = Buffer.concat([bytes.subarray(0, bytes.length - first.program.length), Buffer.alloc(16, 7)]);
    writeFileSync(file, planted); // proves the file is what is read
    expect(Buffer.compare(seccompProgram(admin(), nativeArch(), [], dir, cacheOf()).program, Buffer.alloc(16, 7))).toBe(
      0,
    );
  });

  it('serves no other profile, no other arch, no notifying filter and no file that is not a whole filter', () => {
    seccompProgram(admin(), nativeArch(), [], dir, cacheOf());
    const file = join(cacheOf(), kept()[0]!);
    const bytes = readFileSync(file);
    // The same name with another key inside (as a hash collision would be): compiled, not served.
    writeFileSync(file, Buffer.concat([bytes.subarray(0, 5), Buffer.from('x'), bytes.subarray(6)]));
    expect(seccompProgram(admin(), nativeArch(), [], dir, cacheOf())).toEqual(compileSeccomp(admin()));
    writeFileSync(file, bytes.subarray(0, bytes.length - 3));
    expect(seccompProgram(admin(), nativeArch(), [], dir, cacheOf())).toEqual(compileSeccomp(admin()));
    const other = { ...nativeArch(), audit: nativeArch().audit + 1 };
    expect(seccompProgram(admin(), other, [], dir, cacheOf())).toEqual(compileSeccomp(admin(), other));
    const notify = ['chown'];
    expect(seccompProgram(admin(), nativeArch(), notify, dir, cacheOf())).toEqual(
      compileSeccomp(admin(), nativeArch(), notify),
    );
  });

  it("drops another build's files, and is not used without a build index", () => {
    writeFileSync(join(cacheOf(), 'seccomp-1.2-00000000.bpf'), Buffer.alloc(8));
    seccompProgram(admin(), nativeArch(), [], dir, cacheOf());
    expect(kept()).toHaveLength(1);
    expect(kept()[0]).not.toBe('seccomp-1.2-00000000.bpf');
    rmSync(join(cacheOf(), kept()[0]!));
    rmSync(join(dir, 'seccomp-filters.json'));
    expect(seccompProgram(admin(), nativeArch(), [], dir, cacheOf())).toEqual(compileSeccomp(admin()));
    expect(kept()).toHaveLength(0);
  });

  it("is the code cache's folder, when it is a directory of this user that others cannot write to", () => {
    const saved = process.env.HUTCH_CODE_CACHE_DIR;
    try {
      process.env.HUTCH_CODE_CACHE_DIR = cacheOf();
      expect(filterCacheDir()).toBe(cacheOf());
      chmodSync(cacheOf(), 0o777);
      expect(filterCacheDir()).toBeUndefined();
      symlinkSync(dir, join(dir, 'link'));
      process.env.HUTCH_CODE_CACHE_DIR = join(dir, 'link');
      expect(filterCacheDir()).toBeUndefined();
      delete process.env.HUTCH_CODE_CACHE_DIR;
      expect(filterCacheDir()).toBeUndefined();
    } finally {
      if (saved === undefined) delete process.env.HUTCH_CODE_CACHE_DIR;
      else process.env.HUTCH_CODE_CACHE_DIR = saved;
    }
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
