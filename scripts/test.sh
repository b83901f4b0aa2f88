#!/usr/bin/env bash
# The test command (npm test). As root, it prepares the host as a distribution would
# (scripts/prepare-host.sh), then runs the suites as the unprivileged test users: a rootless
# runtime proves nothing when tested as root. As a normal user, it runs vitest directly, after
# checking the prerequisites. Extra arguments go to vitest (e.g. a test file).
# The machine is left as found, except the caches in $HUTCH_TEST_CACHE (default
# /var/cache/hutch-test): the Debian image, the test guest's image, the test users' caches.
# Everything else a run makes lives in one folder under /tmp, and every process the suites
# started in one cgroup; both go at the end, and what was left behind is named.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
user=${HUTCH_TEST_USER:-hutchtest}
nosub=${HUTCH_TEST_USER_NOSUBID:-hutchnosub}
overlap=${HUTCH_TEST_USER_OVERLAP:-hutchoverlap}
export HUTCH_TEST_CACHE=${HUTCH_TEST_CACHE:-/var/cache/hutch-test}

if [ "$(id -u)" != 0 ]; then
  exec node "$repo/scripts/run-suite.mjs" "$@"
fi

# The suites this run means to run: the closing line counts each, whether it ran or not.
suites=("vitest-$user")
nosubid_too=
if [ $# -eq 0 ] || printf '%s\n' "$@" | grep -q nosubid; then nosubid_too=1; suites+=("vitest-$nosub"); fi
overlap_too=
if [ $# -eq 0 ] || printf '%s\n' "$@" | grep -q overlap; then overlap_too=1; suites+=("vitest-$overlap"); fi
containerd_too=
if [ $# -eq 0 ] || printf '%s\n' "$@" | grep -qx containerd; then containerd_too=1; suites+=(containerd); fi
# Part of the suite again under the newest Node.js line hutch supports (`test.sh node24` alone).
node24_too=
if [ $# -eq 0 ] || printf '%s\n' "$@" | grep -qx node24; then node24_too=1; suites+=("vitest-$user-node24"); fi
if [ $# -eq 0 ]; then
  suites+=(cgroups-host cgroups-guest quickstart)
  [ "${HUTCH_CGVM_QEMU:-}" = 1 ] && suites+=(cgroups-guest-qemu)
fi

# Everything a run makes outside the cache lives in $run (and the short-named folders it lists in
# $run/scratch); every process its suites start, in the cgroup $cg.
run=$(mktemp -d /tmp/hutch-test-run.XXXXXX)
chmod 0755 "$run"
# hutch run as root by the test beds (shared-store.sh, test-containerd.sh) keeps its code cache
# here, not in root's runtime folder (/tmp/hutch-0, which would outlive the run).
mkdir -m 0700 "$run/root-code-cache"
export HUTCH_CODE_CACHE_DIR=$run/root-code-cache
results=$run/results
source "$repo/scripts/testbed/cgroup.sh"
source "$repo/scripts/test-cleanup.sh"
note_fresh_runtime "$run" "$user" "$nosub" "$overlap"
cg=$(cgroup_hierarchy)/hutch-test-run-$$
mkdir "$cg" 2>/dev/null || { echo "test: cannot make the run's cgroup $cg: processes the suites leave will not be ended" >&2; cg=; }
# On every way out (a failed build included): end what is left, then the closing line and its status.
finish() {
  local rc=0
  set +e
  umount "$run/shared/noxattr" 2>/dev/null   # ours (scripts/testbed/shared-store.sh), not a leftover
  end_of_run "$run" "$cg"
  node "$repo/scripts/tally.mjs" line "$results" "${suites[@]}" || rc=$?
  [ -f "$run/scratch" ] && cut -d' ' -f2 "$run/scratch" | xargs -r rm -rf
  rm -rf "$run"
  exit $rc
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP   # bash skips the EXIT trap on a signal it does not trap

bash "$repo/scripts/prepare-host.sh"
# A fresh checkout: install the npm dependencies first (the README promises one command).
[ -d "$repo/node_modules/vitest" ] || (cd "$repo" && npm ci --no-audit --no-fund)
(cd "$repo" && npm run -s build)
# The debootstrap'ed Debian image debian-image.test.ts imports (built once per machine, cached).
bash "$repo/scripts/debian-image.sh" >/dev/null || echo "test: no Debian image; debian-image.test.ts will fail" >&2
# A read-only image store filled as root, and a ramfs (no user xattrs) for the test user: store-shared.test.ts.
bash "$repo/scripts/testbed/shared-store.sh" "$run/shared" "$user" || echo "test: no shared store; store-shared.test.ts will fail" >&2

# Each test user gets, in this run's folder, a copy of the tree it owns (CI clones as root, often
# under /root); and, in a folder of its own with a short name (podman refuses a runroot path over
# 50 characters, and socket paths end at 108), its TMPDIR (t/) and XDG_RUNTIME_DIR (x/: hutch's
# and podman's runtime state, podman's pause process's pid file). Its caches go to the cache.
prepare_user() { # user -> prints the tree's path
  local who=$1 dir scratch
  scratch=$(scratch_of "$who")
  for dir in "$run/$who" "$scratch/t" "$scratch/x" "$HUTCH_TEST_CACHE/user-$who"; do
    mkdir -p "$dir" && chown "$who:" "$dir" && chmod 0700 "$dir"
  done
  chmod 0755 "$run/$who" "$scratch" "$HUTCH_TEST_CACHE"
  chmod 1777 "$scratch/t"   # as /tmp: tests run namespaces as other uids that must reach their folders
  if [ ! -d "$run/$who/src" ]; then
    mkdir "$run/$who/src"
    tar -C "$repo" --exclude=./.git --exclude=./test-results -cf - . | tar -C "$run/$who/src" -xf -
    chown -R "$who:" "$run/$who/src"
  fi
  echo "$run/$who/src"
}

scratch_of() { # user -> its scratch folder, made once per run and listed for the end of the run
  local who=$1 dir
  dir=$(sed -n "s|^$who ||p" "$run/scratch" 2>/dev/null)
  [ -n "$dir" ] || { dir=$(mktemp -d /tmp/ht.XXXXXX) && echo "$who $dir" >> "$run/scratch"; }
  echo "$dir"
}

run_as() { # user, tree, vitest args... (in this run's cgroup, so nothing it starts outlives the run)
  # $suite names the run (default vitest-USER); $node_bin, a folder put first on PATH (another Node).
  local who=$1 dir=$2 scratch; shift 2
  scratch=$(scratch_of "$who")
  ( [ -z "$cg" ] || echo "$BASHPID" > "$cg/cgroup.procs"
    exec runuser -u "$who" -- env -i HOME="$(getent passwd "$who" | cut -d: -f6)" PATH="${node_bin:+$node_bin:}/usr/local/bin:/usr/bin:/bin" \
      LANG=C.UTF-8 npm_config_update_notifier=false CI="${CI:-}" HUTCH_TEST_NOSUBID_USER="$nosub" HUTCH_TEST_OVERLAP_USER="$overlap" HUTCH_SUITE="${suite:-vitest-$who}" HUTCH_TEST_SHARED="$run/shared" \
      TMPDIR="$scratch/t" XDG_RUNTIME_DIR="$scratch/x" XDG_CACHE_HOME="$HUTCH_TEST_CACHE/user-$who" \
      HUTCH_VITEST_CACHE="$HUTCH_TEST_CACHE/user-$who/vitest" bash -c 'cd "$0" && exec node scripts/run-suite.mjs "$@"' "$dir" "$@" )
}

vitest_suite() { # user, vitest args...: runs it and records it for the closing line (as $suite)
  local who=$1 src rc=0; shift
  src=$(prepare_user "$who")
  run_as "$who" "$src" "$@" || rc=$?
  node "$repo/scripts/tally.mjs" add "$results" "${suite:-vitest-$who}" "$rc" "$src/.vitest-results.json"
}

if [ $# -eq 0 ]; then
  # The cgroup suites that need a real systemd (a user manager here, enforcement in a guest).
  # In the run's cgroup too, so that a guest outliving a killed run is ended with the rest.
  tree=$(prepare_user "$user")
  ( [ -z "$cg" ] || echo "$BASHPID" > "$cg/cgroup.procs"
    HUTCH_TEST_RESULTS=$results exec bash "$repo/scripts/test-cgroups-vm.sh" "$tree" ) || true
fi
extra=()
[ $# -gt 0 ] && extra=(--passWithNoTests)   # `test.sh nosubid` selects no file of the first user
if [ $# -eq 0 ]; then
  # The root quickstart and the three commands it prints, offline (scripts/test-quickstart.sh).
  rc=0; bash "$repo/scripts/test-quickstart.sh" "$run/quickstart.tap" || rc=$?
  node "$repo/scripts/tally.mjs" add "$results" quickstart "$rc" "$run/quickstart.tap"
fi
if [ -n "$containerd_too" ]; then
  # containerd as root, then rootless under rootlesskit, driving hutch-runtime (scripts/test-containerd.sh).
  rc=0; bash "$repo/scripts/test-containerd.sh" "$run/containerd.tap" || rc=$?
  node "$repo/scripts/tally.mjs" add "$results" containerd "$rc" "$run/containerd.tap"
fi
vitest_suite "$user" --exclude '**/*.nosubid.test.ts' --exclude '**/*.overlap.test.ts' "${extra[@]}" "$@"
[ -n "$nosubid_too" ] && vitest_suite "$nosub" --passWithNoTests nosubid
[ -n "$overlap_too" ] && vitest_suite "$overlap" --passWithNoTests overlap
if [ -n "$node24_too" ]; then
  # The files where a Node or V8 release shows first: the bundle and its code cache, koffi's
  # callbacks (the union filesystem), the monitor's hand-over, the OCI face, the sandbox.
  if node_bin=$(bash "$repo/scripts/testbed/node-release.sh" 24); then
    suite="vitest-$user-node24" node_bin=$node_bin vitest_suite "$user" \
      test/integration/{node-version,code-cache,run,run-image,fuse,fuse-pages,lifecycle,monitor-waiter,net-run,runtime,sandbox}.test.ts
  else
    echo "test: cannot install Node.js 24 from the npm registry; the node24 suite did not run" >&2
  fi
fi
