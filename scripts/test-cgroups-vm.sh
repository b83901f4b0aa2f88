#!/usr/bin/env bash
# The cgroup suites that need a real systemd (run as root, by scripts/test.sh, after the build):
#  1. host: a real `systemd --user` for the test user, reached over D-Bus (host-nonvm.sh
#     usermgr-*): scopes, placement, freeze, kill; limits cannot be enforced on this host.
#  2. guest: the cgroup-vm user-mode-linux guest (systemd as PID 1, pure cgroup v2), where
#     memory/pids/cpu limits are enforced, as its unprivileged user.
# Usage: test-cgroups-vm.sh [TREE]   TREE: a built copy of the repo readable by other users
# (default: this repo). HUTCH_SKIP_VM=1 skips the guest (say so, never silently).
# HUTCH_CGVM_QEMU=1 adds a pass in the qemu guest (2 vCPUs: cpuset too; ~2 min more).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
tree=${1:-$repo}
[ "$(id -u)" = 0 ] || { echo "cgroups-vm: must run as root (it boots a VM and starts a user manager)" >&2; exit 1; }

shared=""
for d in "${HUTCH_SHARED:-}" "$repo/../shared" /work/shared; do
  [ -n "$d" ] && [ -x "$d/tools/cgroup-vm/cgroup-vm.sh" ] && { shared=$(cd "$d" && pwd); break; }
done
[ -n "$shared" ] || { echo "cgroups-vm: cannot find shared/tools/cgroup-vm (set HUTCH_SHARED)" >&2; exit 1; }
cgvm=$shared/tools/cgroup-vm/cgroup-vm.sh
nonvm=$shared/tools/cgroup-vm/host-nonvm.sh
export CGVM_DIR=${CGVM_DIR:-/tmp/hutch-cgvm}
mkdir -p "$CGVM_DIR"
# Other checkouts on this machine run the same suites: one at a time.
exec 9>"$CGVM_DIR/.hutch-test.lock"
flock 9

status=0
# --- 1. host: real systemd --user over D-Bus (plumbing only)
export CGVM_USER=${HUTCH_TEST_USER:-hutchtest}
if bash "$nonvm" usermgr-start; then
  trap 'bash "$nonvm" usermgr-stop >/dev/null 2>&1 || true' EXIT
  bash "$nonvm" usermgr-exec /usr/bin/env -C "$tree" node --test --test-reporter=spec dist/test/vm/cgroups-usermgr.js || status=1
  bash "$nonvm" usermgr-stop >/dev/null 2>&1 || true
  trap - EXIT
else
  echo "cgroups-vm: FAIL: could not start systemd --user for $CGVM_USER on this host"; status=1
fi

# --- 2. guest: enforcement
if [ "${HUTCH_SKIP_VM:-}" = 1 ]; then
  echo "cgroups-vm: SKIPPED the cgroup enforcement suite in the VM (HUTCH_SKIP_VM=1)"
  exit $status
fi
command -v linux.uml >/dev/null || bash "$cgvm" deps
bash "$cgvm" build   # cached in $CGVM_DIR after the first time (~1.5 min)
unset CGVM_USER
# The guest has no busybox: the user-command suite builds its rootfs from the host's static one.
install -m 0755 /bin/busybox "$tree/dist/test/vm/busybox"
(cd "$tree" && CGVM_SHARE=$tree CGVM_TIMEOUT=${CGVM_TIMEOUT:-480} bash "$cgvm" uml node --test --test-concurrency=1 --test-reporter=spec dist/test/vm/cgroups-vm.js dist/test/vm/cgroup-commands.js) || status=1
if [ "${HUTCH_CGVM_QEMU:-}" = 1 ]; then
  # qemu has no hostfs: the tree is copied in over ssh, so send only what the suite loads.
  slim=$(mktemp -d /tmp/hutch-cgvm-qemu.XXXXXX)
  mkdir -p "$slim/node_modules" && cp -a "$tree/package.json" "$tree/dist" "$slim/"
  cp -a "$tree/node_modules/koffi" "$tree/node_modules/@koromix" "$slim/node_modules/"
  (cd "$slim" && CGVM_SHARE=$slim bash "$cgvm" qemu node --test --test-reporter=spec dist/test/vm/cgroups-vm.js) || status=1
  rm -rf "$slim"
fi
[ $status = 0 ] && echo "cgroups-vm: host and guest cgroup suites ok" || echo "cgroups-vm: FAILED (see above)"
exit $status
