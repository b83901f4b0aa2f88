import { CAPABILITIES } from '../../runtime/linux.js';
import type { TextOut } from './verb-args.js';

/** What this runtime implements (runtime-spec features.md). */
export async function featuresVerb(out: TextOut): Promise<number> {
  out.write(
    JSON.stringify(
      {
        ociVersionMin: '1.0.0',
        ociVersionMax: '1.2.0',
        hooks: ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'],
        mountOptions: [
          'ro',
          'rw',
          'bind',
          'rbind',
          'nosuid',
          'suid',
          'nodev',
          'dev',
          'noexec',
          'exec',
          'sync',
          'dirsync',
          'noatime',
          'nodiratime',
          'relatime',
          'strictatime',
          'private',
          'rprivate',
          'slave',
          'rslave',
          'shared',
          'rshared',
          'unbindable',
          'runbindable',
          'tmpcopyup',
        ],
        linux: {
          namespaces: ['cgroup', 'ipc', 'mount', 'network', 'pid', 'user', 'uts'],
          capabilities: [...CAPABILITIES],
          cgroup: { v1: false, v2: true, systemd: true, systemdUser: true, rdma: false },
          // linux.seccomp goes through hutch's own compiler (src/security/seccomp), no libseccomp.
          seccomp: {
            enabled: true,
            actions: [
              'SCMP_ACT_ALLOW',
              'SCMP_ACT_ERRNO',
              'SCMP_ACT_KILL',
              'SCMP_ACT_KILL_PROCESS',
              'SCMP_ACT_KILL_THREAD',
              'SCMP_ACT_LOG',
              'SCMP_ACT_TRACE',
              'SCMP_ACT_TRAP',
            ],
            operators: [
              'SCMP_CMP_EQ',
              'SCMP_CMP_GE',
              'SCMP_CMP_GT',
              'SCMP_CMP_LE',
              'SCMP_CMP_LT',
              'SCMP_CMP_MASKED_EQ',
              'SCMP_CMP_NE',
            ],
            archs: ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_X32', 'SCMP_ARCH_X86', 'SCMP_ARCH_X86_64'],
            knownFlags: ['SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW', 'SECCOMP_FILTER_FLAG_TSYNC'],
            supportedFlags: ['SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW', 'SECCOMP_FILTER_FLAG_TSYNC'],
          },
          apparmor: { enabled: false },
          selinux: { enabled: false },
          intelRdt: { enabled: false },
          mountExtensions: { idmap: { enabled: false } },
        },
        annotations: { 'io.github.hutch.rootless': 'true' },
      },
      null,
      2,
    ) + '\n',
  );
  return 0;
}
