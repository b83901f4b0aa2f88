#!/usr/bin/env bash
# hutch's test guest: a Debian 12 with systemd as PID 1 and a pure cgroup v2 hierarchy, where an
# unprivileged user has a real login session and `systemd --user`, so the limits hutch asks its
# user manager for are enforced (a hybrid-cgroup build host cannot). Built once per recipe into
# the test cache; each run boots it copy-on-write, so the image is never written.
#   guest.sh deps                     install the host packages it needs (apt)
#   guest.sh build [--qemu]           build the image if this recipe has none yet (~2 min)
#   guest.sh path [--qemu]            print the image's path
#   guest.sh run [--qemu] CMD...      boot, run CMD as the user in a login session with cwd $PWD,
#                                     stream its output, power off; exit with CMD's status
# Backends: user-mode-linux (default: no /dev/kvm needed, host folders through hostfs, 1 CPU);
# --qemu: qemu-system-x86_64 with 9p shares and 2 vCPUs (cpuset too), software-emulated unless
# HUTCH_GUEST_ACCEL=kvm. Settings: HUTCH_TEST_CACHE (default /var/cache/hutch-test),
# HUTCH_GUEST_USER (a host user; the guest user gets its name and ids; default hutchtest),
# HUTCH_GUEST_SHARE (host folders seen at the same paths, comma separated; default $PWD),
# HUTCH_GUEST_MEM (MiB, 2048), HUTCH_GUEST_TIMEOUT (s, 1800).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${HUTCH_TEST_CACHE:-/var/cache/hutch-test}
user=${HUTCH_GUEST_USER:-hutchtest}
share=${HUTCH_GUEST_SHARE:-$PWD}
mem=${HUTCH_GUEST_MEM:-2048}
timeout=${HUTCH_GUEST_TIMEOUT:-1800}
log() { echo "guest: $*" >&2; }
[ "$(id -u)" = 0 ] || { log "must run as root"; exit 2; }

# The image's name carries a hash of its recipe and of the node copied in: a changed recipe or a
# node upgrade builds a new image instead of reusing a stale one.
image_path() { # variant
  local key
  key=$( { cat "$here/guest-build.sh" "$here"/guest-files/*; node --version; } | sha256sum | cut -c1-12)
  echo "$cache/guest-$1-$key.img"
}

build() { # variant
  local image; image=$(image_path "$1")
  [ -f "$image" ] && return 0
  mkdir -p "$cache" && chmod 0755 "$cache"
  exec 8> "$cache/.guest.lock"
  flock 8                        # one build per machine; the winner's image serves the others
  if [ ! -f "$image" ]; then
    rm -rf "$cache"/.guest-build-*   # a killed build's leftovers
    bash "$here/guest-build.sh" "$1" "$image"
    find "$cache" -maxdepth 1 -name "guest-$1-*" ! -name "$(basename "${image%.img}").*" -delete   # older recipes
  fi
  exec 8>&-
}

deps() {
  local pkgs=(user-mode-linux debootstrap e2fsprogs)
  [ "${1:-}" = qemu ] && pkgs+=(qemu-system-x86)
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
}

# A run folder holds the command, its exit status and the console log; it goes when the run ends.
new_run() { # CMD... -> sets $rundir
  rundir=$(mktemp -d "$cache/.run-XXXXXX")
  chmod 0755 "$rundir"
  { printf 'cd %q || exit 126\nexec' "$PWD"; printf ' %q' "$@"; echo; } > "$rundir/cmd.sh"
}

check_paths() { # kernel command-line values cannot hold spaces or commas
  local p
  for p in "$rundir" ${share//,/ }; do
    case "$p" in *' '*|*,*) log "cannot share $p: a path with a space or a comma"; exit 2 ;; esac
  done
}

params() {
  echo "hutch.user=$user hutch.uid=$(id -u "$user") hutch.gid=$(id -g "$user") hutch.run=$rundir hutch.share=$share"
}

in_session() { # CMD...: in a new session whose id goes to RUN/sid, to end what the VM leaves
  setsid bash -c 'echo $$ > "$0/sid"; exec "$@"' "$rundir" "$@"
}

boot_uml() { # the root image copy-on-write (ubd0=COW,BASE), the console on stdout
  in_session timeout -k 10 "$timeout" linux.uml ubd0="$rundir/cow,$(image_path uml)" root=/dev/ubda rw mem="${mem}M" \
    con=null con0=null,fd:1 console=tty0 quiet systemd.show_status=false $(params) hutch.fs=hostfs \
    < /dev/null > "$rundir/console.log" 2>&1
}

boot_qemu() { # -snapshot: writes go to a throwaway overlay; the shares are 9p tags
  local accel=${HUTCH_GUEST_ACCEL:-tcg} cpu=max dev=() n=0 dir
  [ "$accel" = kvm ] && cpu=host || accel=tcg,thread=multi
  local image; image=$(image_path qemu)
  dev+=(-virtfs "local,path=$rundir,mount_tag=run,security_model=passthrough,id=run")
  for dir in ${share//,/ }; do
    dev+=(-virtfs "local,path=$dir,mount_tag=share$n,security_model=passthrough,id=share$n"); n=$((n + 1))
  done
  in_session timeout -k 10 "$timeout" qemu-system-x86_64 -accel "$accel" -cpu "$cpu" -smp 2 -m "$mem" -snapshot \
    -kernel "${image%.img}.vmlinuz" -initrd "${image%.img}.initrd" -no-reboot -nic none \
    -append "console=ttyS0 root=/dev/vda rw quiet panic=-1 $(params) hutch.fs=9p" \
    -drive "file=$image,format=raw,if=virtio" "${dev[@]}" \
    -serial "file:$rundir/console.log" -monitor none -display none < /dev/null > "$rundir/qemu.log" 2>&1
}

end_guest() { # the guest's session: UML's helper processes, or a guest still running
  if [ -s "$rundir/sid" ]; then pkill -KILL -s "$(cat "$rundir/sid")" 2>/dev/null || true; fi
}

run() { # variant CMD...
  local variant=$1; shift
  [ $# -gt 0 ] || { log "usage: guest.sh run [--qemu] CMD..."; exit 2; }
  build "$variant"
  new_run "$@"
  trap 'end_guest; rm -rf "$rundir"' EXIT
  trap 'exit 143' TERM HUP INT   # a stopped test run stops its guest too
  check_paths
  local start; start=$(date +%s)
  : > "$rundir/console.log"
  "boot_$variant" & local vm=$!
  # The command's output, between the markers, while the guest runs.
  tail -n +1 -F --pid=$vm "$rundir/console.log" 2>/dev/null | sed -un 's/\r//g; /^HUTCH-GUEST-BEGIN/,/^HUTCH-GUEST-END/p' >&2 &
  local vmrc=0; wait $vm || vmrc=$?
  wait $! 2>/dev/null || true
  end_guest
  if [ ! -s "$rundir/rc" ]; then
    log "$variant: the command never ran or never finished (exit $vmrc after $(( $(date +%s) - start )) s); the console's end:"
    tail -30 "$rundir/console.log" | sed 's/\r//g' >&2
    return 125
  fi
  log "$variant: done in $(( $(date +%s) - start )) s, exit $(cat "$rundir/rc")"
  return "$(cat "$rundir/rc")"
}

cmd=${1:-}; shift || true
variant=uml
[ "${1:-}" = --qemu ] && { variant=qemu; shift; }
case "$cmd" in
  deps) deps "$variant" ;;
  build) build "$variant" ;;
  path) image_path "$variant" ;;
  run) run "$variant" "$@" ;;
  *) sed -n '2,17p' "$0" >&2; exit 2 ;;
esac
