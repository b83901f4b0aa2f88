import type { Profile, ProfileRule } from './profile.js';

/**
 * hutch's default seccomp profile: the semantics of podman's (containers-common seccomp.json),
 * written as hutch's own data, grouped by what the calls do. Anything not named fails with ENOSYS
 * (so a libc falls back from a syscall newer than the list, as for clone3 elsewhere); what is
 * named and refused fails with EPERM. Containers are rootless here, so mount, unshare, setns and
 * pivot_root stay allowed (they act inside the container's own user namespace), as podman has it.
 */
const words = (s: string): string[] => s.trim().split(/\s+/);

const ALLOWED: Record<string, string> = {
  files: `access chdir chmod chown chown32 close close_range copy_file_range creat dup dup2 dup3 faccessat faccessat2
    fadvise64 fadvise64_64 fallocate fchdir fchmod fchmodat fchown fchown32 fchownat fcntl fcntl64 fdatasync flock
    fstat fstat64 fstatat64 fstatfs fstatfs64 fsync ftruncate ftruncate64 futimesat getcwd getdents getdents64 lchown
    lchown32 link linkat _llseek lseek lstat lstat64 mkdir mkdirat mknod mknodat name_to_handle_at newfstatat open
    openat openat2 pread64 preadv preadv2 pwrite64 pwritev pwritev2 read readahead readdir readlink readlinkat readv
    rename renameat renameat2 rmdir sendfile sendfile64 splice stat stat64 statfs statfs64 statx symlink symlinkat sync
    sync_file_range syncfs tee truncate truncate64 umask unlink unlinkat utime utimensat utimensat_time64 utimes
    write writev`,
  xattrs: `fgetxattr flistxattr fremovexattr fsetxattr getxattr lgetxattr listxattr llistxattr lremovexattr lsetxattr
    removexattr setxattr`,
  events: `epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old eventfd
    eventfd2 fanotify_mark inotify_add_watch inotify_init inotify_init1 inotify_rm_watch _newselect pause poll ppoll
    ppoll_time64 pselect6 pselect6_time64 select signalfd signalfd4 timerfd_create timerfd_gettime timerfd_gettime64
    timerfd_settime timerfd_settime64`,
  aio: 'io_cancel io_destroy io_getevents io_setup io_submit',
  processes: `clone clone3 execve execveat exit exit_group fork getpgid getpgrp getpid getppid getpriority getrusage getsid
    gettid kill pidfd_getfd pidfd_open pidfd_send_signal prctl prlimit64 getrlimit setrlimit ugetrlimit setpgid
    setpriority setsid tgkill tkill vfork wait4 waitid waitpid restart_syscall rseq set_robust_list get_robust_list
    set_tid_address set_thread_area get_thread_area ioprio_get ioprio_set getcpu capget capset seccomp`,
  scheduling: `sched_get_priority_max sched_get_priority_min sched_getaffinity sched_getattr sched_getparam
    sched_getscheduler sched_rr_get_interval sched_rr_get_interval_time64 sched_setaffinity sched_setattr
    sched_setparam sched_setscheduler sched_yield`,
  identity: `getegid getegid32 geteuid geteuid32 getgid getgid32 getgroups getgroups32 getresgid getresgid32 getresuid
    getresuid32 getuid getuid32 setfsgid setfsgid32 setfsuid setfsuid32 setgid setgid32 setgroups setgroups32 setregid
    setregid32 setresgid setresgid32 setresuid setresuid32 setreuid setreuid32 setuid setuid32`,
  memory: `brk madvise memfd_create mincore mlock mlock2 mlockall mmap mmap2 mprotect mremap msync munlock munlockall
    munmap remap_file_pages pkey_alloc pkey_free pkey_mprotect`,
  signals: `alarm rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait
    rt_sigtimedwait_time64 rt_tgsigqueueinfo sigaltstack sigreturn`,
  time: `adjtimex clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime clock_gettime64
    clock_nanosleep clock_nanosleep_time64 getitimer gettimeofday nanosleep setitimer time timer_create timer_delete
    timer_getoverrun timer_gettime timer_gettime64 timer_settime timer_settime64 times`,
  network: `accept accept4 bind connect getpeername getsockname getsockopt listen recv recvfrom recvmmsg recvmmsg_time64
    recvmsg send sendmmsg sendmsg sendto setsockopt shutdown socketcall socketpair`,
  ipc: `ipc mq_getsetattr mq_notify mq_open mq_timedreceive mq_timedreceive_time64 mq_timedsend mq_timedsend_time64
    mq_unlink msgctl msgget msgrcv msgsnd semctl semget semop semtimedop semtimedop_time64 shmat shmctl shmdt shmget
    pipe pipe2 futex futex_time64`,
  "the container's own namespaces": `mount umount umount2 move_mount open_tree fsconfig fsmount fsopen fspick
    pivot_root unshare setns`,
  misc: `getrandom ioctl keyctl sysinfo syslog uname reboot`,
};

/** Refused with EPERM whatever the capabilities: old, host-wide or known-dangerous calls. */
const REFUSED = `bdflush io_pgetevents kexec_file_load kexec_load membarrier migrate_pages move_pages nfsservctl nice
  oldfstat oldlstat oldolduname oldstat olduname pciconfig_iobase pciconfig_read pciconfig_write sgetmask ssetmask
  swapcontext swapoff swapon sysfs uselib userfaultfd ustat vm86 vm86old vmsplice`;

/** Allowed with the capability in the container's bounding set, EPERM without it. */
const BY_CAPABILITY: [string, string][] = [
  ['CAP_DAC_READ_SEARCH', 'open_by_handle_at'],
  ['CAP_SYS_ADMIN', 'bpf fanotify_init lookup_dcookie perf_event_open quotactl setdomainname sethostname'],
  ['CAP_SYS_CHROOT', 'chroot'],
  ['CAP_SYS_MODULE', 'delete_module init_module finit_module query_module'],
  ['CAP_SYS_NICE', 'get_mempolicy mbind set_mempolicy'],
  ['CAP_SYS_PACCT', 'acct'],
  ['CAP_SYS_PTRACE', 'kcmp process_madvise process_vm_readv process_vm_writev ptrace'],
  ['CAP_SYS_RAWIO', 'iopl ioperm'],
  ['CAP_SYS_TIME', 'settimeofday stime clock_settime clock_settime64'],
  ['CAP_SYS_TTY_CONFIG', 'vhangup'],
];

/** Allowed on these arches only (Go names, as containers-common writes them). */
const BY_ARCH: [string[], string][] = [
  [['amd64', 'x32'], 'arch_prctl'],
  [['amd64', 'x32', '386'], 'modify_ldt'],
  [['arm', 'arm64'], 'arm_fadvise64_64 arm_sync_file_range sync_file_range2 breakpoint cacheflush set_tls'],
  [['ppc64le'], 'sync_file_range2'],
  [['s390', 's390x'], 's390_pci_mmio_read s390_pci_mmio_write s390_runtime_instr'],
];

/** personality(2): only the values a normal program sets or queries. */
const PERSONALITIES = [
  0x0 /* PER_LINUX */, 0x8 /* UNAME26 */, 0x20000 /* ADDR_NO_RANDOMIZE */, 0x20008, 0xffffffff /* query */,
];

const AF_NETLINK = 16;
const NETLINK_AUDIT = 9;
const EPERM = 1;
const EINVAL = 22;
const ENOSYS = 38;

/** Audit netlink sockets need CAP_AUDIT_WRITE (EINVAL without, as a kernel without audit answers). */
function socketRules(): ProfileRule[] {
  const withoutAudit = { excludes: { caps: ['CAP_AUDIT_WRITE'] } };
  const eq = (index: number, value: number) => ({ index, value, valueTwo: 0, op: 'SCMP_CMP_EQ' });
  const ne = (index: number, value: number) => ({ index, value, valueTwo: 0, op: 'SCMP_CMP_NE' });
  return [
    {
      names: ['socket'],
      action: 'SCMP_ACT_ERRNO',
      errnoRet: EINVAL,
      args: [eq(0, AF_NETLINK), eq(2, NETLINK_AUDIT)],
      ...withoutAudit,
    },
    { names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [ne(2, NETLINK_AUDIT)], ...withoutAudit },
    { names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [ne(0, AF_NETLINK)], ...withoutAudit },
    { names: ['socket'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_AUDIT_WRITE'] } },
  ];
}

/** The default profile, in containers-common's format (resolveProfile picks what applies). */
export function defaultProfile(): Profile {
  const syscalls: ProfileRule[] = [
    { names: words(REFUSED), action: 'SCMP_ACT_ERRNO', errnoRet: EPERM },
    { names: Object.values(ALLOWED).flatMap(words), action: 'SCMP_ACT_ALLOW' },
    ...PERSONALITIES.map((value) => ({
      names: ['personality'],
      action: 'SCMP_ACT_ALLOW',
      args: [{ index: 0, value, valueTwo: 0, op: 'SCMP_CMP_EQ' }],
    })),
    ...BY_ARCH.map(([arches, names]) => ({ names: words(names), action: 'SCMP_ACT_ALLOW', includes: { arches } })),
    ...BY_CAPABILITY.flatMap(([cap, names]): ProfileRule[] => [
      { names: words(names), action: 'SCMP_ACT_ALLOW', includes: { caps: [cap] } },
      { names: words(names), action: 'SCMP_ACT_ERRNO', errnoRet: EPERM, excludes: { caps: [cap] } },
    ]),
    ...socketRules(),
  ];
  return {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: ENOSYS,
    archMap: [
      { architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] },
      { architecture: 'SCMP_ARCH_AARCH64', subArchitectures: ['SCMP_ARCH_ARM'] },
    ],
    syscalls,
  };
}
