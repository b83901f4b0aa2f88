# Shared by the container benches (sourced): the test user, a scratch folder it owns, a minimal
# busybox root filesystem, and `as_user` to drop to that user with a clean environment.
# Usage: bench_init NAME (sets repo, user, work, home); busybox_rootfs DIR APPLET...
bench_init() { # name
  repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  user=${HUTCH_TEST_USER:-hutchtest}
  [ "$(id -u)" = 0 ] || { echo "$1.bench: run as root (it drops to $user)" >&2; exit 1; }
  command -v hyperfine >/dev/null || { echo "$1.bench: hyperfine is not installed" >&2; exit 1; }
  work=$(mktemp -d "/tmp/hutch-bench-$1.XXXXXX")
  home=$(getent passwd "$user" | cut -d: -f6)
}

busybox_rootfs() { # dir applet...
  local rootfs=$1; shift
  mkdir -p "$rootfs"/{bin,etc,proc,sys,dev,tmp}
  cp /bin/busybox "$rootfs/bin/busybox"
  for applet in "$@"; do ln -s busybox "$rootfs/bin/$applet"; done
  printf 'root:x:0:0:root:/root:/bin/sh\n' > "$rootfs/etc/passwd"
  printf 'root:x:0:\n' > "$rootfs/etc/group"
  # What hutch mounts over: without these a --rootfs run goes on a writable layer (the union).
  : > "$rootfs/etc/hosts"; : > "$rootfs/etc/hostname"; : > "$rootfs/etc/resolv.conf"
}

as_user() { runuser -u "$user" -- env -i HOME="$home" PATH=/usr/local/bin:/usr/bin:/bin XDG_RUNTIME_DIR= "$@"; }
