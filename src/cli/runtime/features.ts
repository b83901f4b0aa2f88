import { CAPABILITIES } from '../../runtime/linux.js';
import { RuntimeCommand } from './base.js';

/** `hutch runtime features`: what this runtime implements (runtime-spec features.md). */
export class RuntimeFeaturesCommand extends RuntimeCommand {
  static paths = [['runtime', 'features']];
  static usage = RuntimeCommand.Usage({ description: 'print the features JSON', examples: [['Features', 'hutch runtime features']] });

  async run(): Promise<number> {
    this.context.stdout.write(JSON.stringify({
      ociVersionMin: '1.0.0',
      ociVersionMax: '1.2.0',
      hooks: ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'],
      mountOptions: ['ro', 'rw', 'bind', 'rbind', 'nosuid', 'suid', 'nodev', 'dev', 'noexec', 'exec', 'sync', 'dirsync', 'noatime', 'nodiratime', 'relatime', 'strictatime', 'private', 'rprivate', 'slave', 'rslave', 'shared', 'rshared', 'unbindable', 'runbindable', 'tmpcopyup'],
      linux: {
        namespaces: ['cgroup', 'ipc', 'mount', 'network', 'pid', 'user', 'uts'],
        capabilities: [...CAPABILITIES],
        cgroup: { v1: false, v2: true, systemd: true, systemdUser: true, rdma: false },
        seccomp: { enabled: false },
        apparmor: { enabled: false },
        selinux: { enabled: false },
        intelRdt: { enabled: false },
        mountExtensions: { idmap: { enabled: false } },
      },
      annotations: { 'io.github.hutch.rootless': 'true' },
    }, null, 2) + '\n');
    return 0;
  }
}
