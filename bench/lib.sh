# Shared by the container benches (sourced): the test user, a scratch folder it owns, a minimal
# busybox root filesystem, `as_user` to drop to that user with a clean environment, and podman
# as every bench compares against it.
# Usage: bench_init NAME (sets repo, user, work, home); busybox_rootfs DIR APPLET...;
# podman_init (sets podman) and podman_cleanup.
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

# The podman every bench measures hutch against, the same in each: rootless as the test user, a
# store of its own in $work/podman (overlay with fuse-overlayfs as its mount program, the rootless
# setup hutch's union filesystem stands in for), runc, cgroupfs (no systemd user session is
# assumed), events to a file, its temporary files in the store's folder (the same whatever
# XDG_RUNTIME_DIR a bench gives), and no registry to search (nothing comes from the internet).
# `$podman` is the command (to run through as_user); its files are the user's. Rootless podman
# takes its run root from XDG_RUNTIME_DIR, not storage.conf: --runroot keeps it in $work too
# (short: podman refuses a runroot over 50 characters).
podman_init() {
  local d=$work/podman
  mkdir -p "$d"
  printf '[storage]\ndriver = "overlay"\nrootless_storage_path = "%s"\n[storage.options.overlay]\nmount_program = "/usr/bin/fuse-overlayfs"\n' \
    "$d/s" > "$d/storage.conf"
  printf '[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\ntmp_dir = "%s"\n' "$d/t" > "$d/containers.conf"
  : > "$d/registries.conf"
  chown -R "$user:" "$d"
  podman="env CONTAINERS_STORAGE_CONF=$d/storage.conf CONTAINERS_CONF=$d/containers.conf CONTAINERS_REGISTRIES_CONF=$d/registries.conf podman --runroot $d/r"
}

# Removes podman's containers and images (its layers belong to subordinate ids: from inside its
# user namespace), then ends the pause process rootless podman leaves holding that namespace (this
# store's own: its pid file is in tmp_dir). For the benches' EXIT traps; never fails.
podman_cleanup() {
  [ -n "${podman:-}" ] || return 0
  as_user bash -c "cd /tmp && $podman rm -f -a -t 0; $podman rmi -a -f; $podman unshare rm -rf $work/podman/s $work/podman/r" >/dev/null 2>&1 || true
  [ ! -f "$work/podman/t/pause.pid" ] || kill "$(cat "$work/podman/t/pause.pid")" 2>/dev/null || true
}
