// The seccomp API the engine (and `hutch sandbox`) build on: profiles in containers-common's format,
// hutch's default profile, and the compiler from an OCI `linux.seccomp` to a BPF program (a plain
// run's filter compiled at build time: seccompProgram).
export { nativeArch, archNamed, type Arch } from './arch.js';
export { compileSeccomp, actionValue, RET, type SeccompProgram } from './compile.js';
export { seccompProgram } from './precompiled.js';
export { defaultProfile } from './default-profile.js';
export { CHOWN_FAMILY } from './notify.js';
export { parseProfile, resolveProfile, type Profile, type ProfileRule, type ProfileContext } from './profile.js';
