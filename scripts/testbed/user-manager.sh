#!/usr/bin/env bash
# Runs one command as a user inside a real `systemd --user` on THIS host (no VM), reached over its
# session D-Bus as on a distribution, and returns the command's exit status. hutch's host cgroup
# suite (test/vm/cgroups-usermgr.ts) needs that: scopes asked for with StartTransientUnit,
# Delegate=yes subtrees owned by the user, placement, freeze and kill. Whether limits are enforced
# depends on the host (on a hybrid cgroup host the controllers are bound to v1; the guest proves them).
#
# The host is left as found: the manager runs in a private mount and cgroup namespace (its own
# /run/systemd and /run/user/UID tmpfs, a cgroup2 view rooted at a subtree made for this run),
# so several runs for the same user do not meet; at the end the subtree is killed and removed.
# Usage (root): user-manager.sh USER CMD [ARGS...]
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "user-manager: must run as root" >&2; exit 2; }
[ $# -ge 2 ] || { echo "usage: user-manager.sh USER CMD [ARGS...]" >&2; exit 2; }
user=$1; shift
uid=$(id -u "$user"); gid=$(id -g "$user"); home=$(getent passwd "$user" | cut -d: -f6)
source "$(dirname "$0")/cgroup.sh"
hier=$(cgroup_hierarchy)
cg=$hier/hutch-test-u$uid-$$                     # this run's subtree, owned by the user
state=$(mktemp -d /tmp/hutch-user-manager.XXXXXX)
user_env=(env -i HOME="$home" USER="$user" LOGNAME="$user" SHELL=/bin/bash PATH=/usr/local/bin:/usr/bin:/bin
  XDG_RUNTIME_DIR="/run/user/$uid" DBUS_SESSION_BUS_ADDRESS="unix:path=/run/user/$uid/bus")

# As the user, in the manager's namespaces and in the subtree's session cgroup (a user manager
# with no system manager above it can only take in processes already inside the user's subtree).
as_user() {
  ( echo "$BASHPID" > "$cg/session.scope/cgroup.procs"
    exec nsenter -t "$(cat "$state/pid")" -m -C setpriv --reuid="$uid" --regid="$gid" --init-groups "${user_env[@]}" "$@" )
}

stop() {
  if [ -s "$state/pid" ]; then
    local pid; pid=$(cat "$state/pid")
    as_user systemctl --user exit >/dev/null 2>&1 || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  cgroup_end "$cg" || true
  # The mount points made on the host's /run for the private tmpfs mounts (empty there), unless
  # another run still mounts on them (removing a mount point detaches it in every namespace).
  if [ -s "$state/made" ] && ! compgen -G "$hier/hutch-test-u*" >/dev/null; then
    tac "$state/made" | xargs -r rmdir 2>/dev/null || true
  fi
  rm -rf "$state"
}
trap stop EXIT

for dir in /run/systemd /run/user "/run/user/$uid"; do
  [ -d "$dir" ] || { mkdir "$dir"; echo "$dir" >> "$state/made"; }
done
mkdir -p "$cg/user@$uid.service" "$cg/session.scope"
chown -R "$uid:$gid" "$cg"
# The manager: placed in the subtree first, then unshared so that the subtree is its cgroup root.
# /run/systemd/system makes sd_booted() true; the cgroup2 mount hides the host's v1 hierarchies.
setsid bash -c '
  cg=$1 uid=$2 gid=$3 state=$4; shift 4
  echo $$ > "$cg/cgroup.procs"
  exec unshare --mount --propagation private --cgroup bash -c "
    set -e
    mount -t tmpfs -o mode=0755 tmpfs /run/systemd && mkdir /run/systemd/system
    mount -t tmpfs -o mode=0700,uid=$uid,gid=$gid tmpfs /run/user/$uid
    mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 /sys/fs/cgroup
    echo \$\$ > /sys/fs/cgroup/user@$uid.service/cgroup.procs
    echo \$\$ > $state/pid
    exec setpriv --reuid=$uid --regid=$gid --init-groups \"\$@\" /lib/systemd/systemd --user" manager "$@"
' start "$cg" "$uid" "$gid" "$state" "${user_env[@]}" > "$state/log" 2>&1 < /dev/null &

started=$(date +%s)
until [ -s "$state/pid" ] && as_user systemctl --user is-system-running 2>/dev/null | grep -qE '^(running|degraded)$'; do
  if [ $(( $(date +%s) - started )) -ge 30 ]; then
    echo "user-manager: systemd --user for $user did not come up in 30 s:" >&2
    cat "$state/log" >&2
    exit 1
  fi
  sleep 0.1
done
echo "user-manager: systemd --user for $user up in $(( $(date +%s) - started )) s (cgroup $cg)" >&2
status=0
as_user "$@" || status=$?
exit $status
