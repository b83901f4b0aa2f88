#!/usr/bin/env bash
# The cgroup suites that need a real systemd (run as root, by scripts/test.sh, after the build):
#  cgroups-host   test/vm/cgroups-usermgr.ts under a real `systemd --user` on this host, over
#                 D-Bus (scripts/testbed/user-manager.sh): scopes, placement, freeze, kill.
#  cgroups-guest  test/vm/cgroups-vm.ts and cgroup-commands.ts in hutch's test guest
#                 (scripts/testbed/guest.sh: user-mode-linux, systemd as PID 1, cgroup v2), where
#                 memory/pids/cpu limits are enforced, as the same unprivileged user.
#  cgroups-guest-qemu (HUTCH_CGVM_QEMU=1)  cgroups-vm.ts in the qemu guest (2 vCPUs: cpuset too).
# Usage: test-cgroups-vm.sh [TREE]   TREE: a built copy of the repo the test user may write
# (default: this repo). Each suite is recorded for the closing line (scripts/tally.mjs) in
# $HUTCH_TEST_RESULTS when test.sh sets it; run alone, this prints its own closing line.
# HUTCH_SKIP_VM=1 skips the guest, saying so (never silently).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
tree=$(cd "${1:-$repo}" && pwd)
user=${HUTCH_TEST_USER:-hutchtest}
[ "$(id -u)" = 0 ] || { echo "cgroups-vm: must run as root (it boots a guest and starts a user manager)" >&2; exit 1; }
tally=("node" "$repo/scripts/tally.mjs")
results=${HUTCH_TEST_RESULTS:-}
alone=
if [ -z "$results" ]; then
  alone=1
  results=$(mktemp -d /tmp/hutch-cgroups-results.XXXXXX)
  trap 'rm -rf "$results"' EXIT
fi
# The suites' TAP reports, written by the test user (on the host and in the guest) into the tree.
reports=$tree/.test-reports
rm -rf "$reports" && mkdir -p "$reports" && chown "$user:" "$reports"
suites=()

node_suite() { # name, runner... -- test files: runs node --test under the runner, records it
  local name=$1 rc=0 runner=() ; shift
  while [ "$1" != -- ]; do runner+=("$1"); shift; done; shift
  suites+=("$name")
  "${runner[@]}" node --test --test-concurrency=1 --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=tap --test-reporter-destination="$reports/$name.tap" "$@" || rc=$?
  "${tally[@]}" add "$results" "$name" "$rc" "$reports/$name.tap"
}

# --- 1. host: a real systemd --user over D-Bus (plumbing only on a hybrid-cgroup host)
node_suite cgroups-host bash "$repo/scripts/testbed/user-manager.sh" "$user" env -C "$tree" -- dist/test/vm/cgroups-usermgr.js

# --- 2. guest: enforcement, as the same user (the guest gives it the host's uid and gid)
if [ "${HUTCH_SKIP_VM:-}" = 1 ]; then
  echo "cgroups-vm: SKIPPED the cgroup enforcement suites in the guest (HUTCH_SKIP_VM=1)"
  suites+=(cgroups-guest)
  "${tally[@]}" skip "$results" cgroups-guest "HUTCH_SKIP_VM=1"
else
  guest=("$repo/scripts/testbed/guest.sh")
  command -v linux.uml >/dev/null || bash "${guest[@]}" deps
  # The guest has no busybox: the user-command suite builds its rootfs from the host's static one.
  install -m 0755 -o "$user" /bin/busybox "$tree/dist/test/vm/busybox"
  export HUTCH_GUEST_USER=$user HUTCH_GUEST_SHARE=$tree HUTCH_GUEST_TIMEOUT=${HUTCH_GUEST_TIMEOUT:-900}
  cd "$tree"
  node_suite cgroups-guest bash "${guest[@]}" run -- dist/test/vm/cgroups-vm.js dist/test/vm/cgroup-commands.js
  if [ "${HUTCH_CGVM_QEMU:-}" = 1 ]; then
    command -v qemu-system-x86_64 >/dev/null || bash "${guest[@]}" deps --qemu
    node_suite cgroups-guest-qemu bash "${guest[@]}" run --qemu -- dist/test/vm/cgroups-vm.js
  fi
fi

if [ -n "$alone" ]; then
  "${tally[@]}" line "$results" "${suites[@]}"
else
  # Under test.sh the closing line comes at the end of the whole run; say how these went.
  "${tally[@]}" line "$results" "${suites[@]}" | sed '$s/^tests:/cgroups-vm:/'
fi
