#!/usr/bin/env bash
# containerd (Debian's) drives hutch-runtime through its runc shim, as kubelet's CRI would (run as
# root by scripts/test.sh): `ctr run --runc-binary bin/hutch-runtime` on an image hutch saved and
# `ctr image import` read, first with containerd as root, then rootless: containerd in
# rootlesskit's user namespace, run by the test user. Every daemon, socket and state folder lives
# in one folder of this run; the daemons are ended by pid and the folder goes at the end.
set -euo pipefail
. "$(dirname "$0")/lib/checks.sh"
checks_init test-containerd "$@"
runtime=$repo/bin/hutch-runtime
work=$(mktemp -d /tmp/hutch-containerd-test-XXXXXX)
chmod 0755 "$work"
pids=()
fresh_run=; [ -e /run/containerd ] || fresh_run=1   # containerd's shims put their sockets there
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done; done
  # Shims of this run's daemons (their -address is in this folder) outlive a killed containerd.
  for pid in $(pgrep -f -- "-address $work/" || true); do kill -9 "$pid" 2>/dev/null || true; done
  findmnt -rn -o TARGET | grep "^$work/" | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$work"
  [ -z "$fresh_run" ] || rm -rf /run/containerd
}
trap cleanup EXIT

# containerd's config: its own root, state and sockets in DIR, no CRI plugin.
write_config() { # dir
  printf 'version = 2\nroot = "%s/root"\nstate = "%s/state"\ndisabled_plugins = ["io.containerd.grpc.v1.cri"]\n[grpc]\n  address = "%s/sock"\n[ttrpc]\n  address = "%s/sock.ttrpc"\n' \
    "$1" "$1" "$1" "$1" > "$1/config.toml"
}
wait_socket() { # socket
  for _ in $(seq 100); do [ -S "$1" ] && return 0; sleep 0.1; done
  echo "test-containerd: containerd did not make $1" >&2; return 1
}

# The image: a busybox root filesystem, imported and saved by hutch (its state in this folder).
mkdir -p "$work/rootfs/bin" "$work/rootfs/etc" "$work/rootfs/tmp" "$work/xdg" "$work/cache"
cp /bin/busybox "$work/rootfs/bin/busybox"
for applet in sh echo cat id sleep; do ln -s busybox "$work/rootfs/bin/$applet"; done
tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
export XDG_RUNTIME_DIR=$work/xdg XDG_CACHE_HOME=$work/cache
node "$repo/bin/hutch" import --root "$work/hutch" "$work/rootfs.tar" localhost/bb >/dev/null
node "$repo/bin/hutch" save --root "$work/hutch" -o "$work/bb.tar" localhost/bb
chmod 0644 "$work/bb.tar"

echo "test-containerd: as root"
mkdir -m 0700 "$work/root"
write_config "$work/root"
containerd --config "$work/root/config.toml" > "$work/root/log" 2>&1 &
pids+=($!)
wait_socket "$work/root/sock"
ctr() { command ctr -a "$work/root/sock" "$@"; }
check "ctr image import reads the archive hutch save wrote" ctr image import "$work/bb.tar"
run_rm() { # ctr run --rm: prints the output and the exit status
  local out rc=0
  out=$(ctr run --rm --runc-binary "$runtime" localhost/bb:latest c1 sh -c 'echo hello from hutch; exit 5' 2>/dev/null) || rc=$?
  echo "$out (exit $rc)"; [ "$out" = "hello from hutch" ] && [ $rc = 5 ]
}
detached() { # ctr run -d, task exec, kill, rm; nothing listed after
  ctr run -d --runc-binary "$runtime" localhost/bb:latest c2 sleep 1000 >/dev/null 2>&1 &&
  ctr task ls | grep -q '^c2 .* RUNNING' &&
  [ "$(ctr task exec --exec-id e1 c2 echo from exec)" = "from exec" ] &&
  ctr task kill -s SIGKILL c2 || return 1
  for _ in $(seq 50); do ctr task ls | grep -q '^c2 .* STOPPED' && break; sleep 0.1; done
  ctr task rm c2 >/dev/null 2>&1; ctr container rm c2
  ctr task ls; ctr container ls; [ -z "$(ctr task ls -q)" ] && [ -z "$(ctr container ls -q)" ]
}
check "ctr run --rm: the output and the exit status" run_rm
check "ctr run -d, then task exec, kill and rm" detached
no_state() { # hutch-runtime's state (the shim's --root) holds no container (its .lock stays)
  local left; left=$(ls /run/containerd/runc/default 2>/dev/null || true); echo "$left"; [ -z "$left" ]
}
check "nothing of hutch-runtime is left in containerd's runc root" no_state
kill "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true

# Rootless: containerd in rootlesskit's user namespace (the user's /etc/subuid range mapped), as
# containerd-rootless.sh starts it: a private /run/containerd (its shims' sockets are there).
echo "test-containerd: rootless, under rootlesskit, as $user"
rl=$work/rootless
mkdir -m 0700 "$rl" && write_config "$rl" && cp "$work/bb.tar" "$rl/bb.tar" && chown -R "$user:" "$rl"
as_user() { # exec's the command (its pid is $! when started in the background)
  exec setpriv --reuid="$user" --regid="$user" --init-groups env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$rl" XDG_RUNTIME_DIR="$rl" "$@"
}
(as_user rootlesskit --state-dir="$rl/rk" --net=host --copy-up=/etc --copy-up=/run \
  sh -c "rm -f /run/containerd; mkdir -p /run/containerd; exec containerd --config $rl/config.toml") > "$rl/log" 2>&1 &
pids+=($!)
wait_socket "$rl/sock"
rctr() { (as_user nsenter -U -m -t "$(cat "$rl/rk/child_pid")" ctr -a "$rl/sock" "$@"); }
check "ctr image import in the user's containerd" rctr image import "$rl/bb.tar"
rootless_run() { # root in the container is the user on the host; the exit status comes back
  local out rc=0
  out=$(rctr run --rm --runc-binary "$runtime" localhost/bb:latest r1 sh -c 'head -1 /proc/self/uid_map; exit 3' 2>/dev/null) || rc=$?
  echo "$out (exit $rc)"; [ "$(echo $out)" = "0 $(id -u "$user") 1" ] && [ $rc = 3 ]
}
check "ctr run --rm: root in the container is $user on the host" rootless_run
checks_end
