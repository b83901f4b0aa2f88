#!/usr/bin/env bash
# The test command (npm test). As root, it prepares the host as a distribution would
# (scripts/prepare-host.sh), then runs the suite as the unprivileged test user: a rootless
# runtime proves nothing when tested as root. As a normal user, it runs the suite directly,
# after checking the prerequisites. Extra arguments go to vitest (e.g. a test file).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
user=${HUTCH_TEST_USER:-hutchtest}
nosub=${HUTCH_TEST_USER_NOSUBID:-hutchnosub}

if [ "$(id -u)" != 0 ]; then
  exec node "$repo/scripts/run-suite.mjs" "$@"
fi

bash "$repo/scripts/prepare-host.sh"
# A fresh checkout: install the npm dependencies first (the README promises one command).
[ -d "$repo/node_modules/vitest" ] || (cd "$repo" && npm ci --no-audit --no-fund)
(cd "$repo" && npm run -s build)
# The debootstrap'ed Debian image debian-image.test.ts imports (built once per machine, cached).
bash "$repo/scripts/debian-image.sh" >/dev/null || echo "test: no Debian image; debian-image.test.ts will fail" >&2

# The test users must read the tree and write vitest's cache: give them a copy they own
# when the checkout is not theirs to use (CI clones as root, often under /root).
run_as() { # user, workdir, args...
  local who=$1 dir=$2; shift 2
  runuser -u "$who" -- env -i HOME="$(getent passwd "$who" | cut -d: -f6)" PATH=/usr/local/bin:/usr/bin:/bin \
    LANG=C.UTF-8 npm_config_update_notifier=false CI="${CI:-}" HUTCH_TEST_NOSUBID_USER="$nosub" bash -c 'cd "$0" && exec node scripts/run-suite.mjs "$@"' "$dir" "$@"
}
copy_for() { # user -> prints the copy's path
  local who=$1 dest="/tmp/hutch-test-src-$1-$(printf %s "$repo" | md5sum | cut -c1-8)"
  rm -rf "$dest"
  mkdir -p "$dest"
  tar -C "$repo" --exclude=.git --exclude=./test-results -cf - . | tar -C "$dest" -xf -
  chown -R "$who:$who" "$dest"
  echo "$dest"
}

status=0
src=$(copy_for "$user")
# The cgroup suites that need a real systemd (a user manager here, enforcement in a VM).
if [ $# -eq 0 ]; then bash "$repo/scripts/test-cgroups-vm.sh" "$src" || status=$?; fi
# The root quickstart and the three commands it prints, offline (scripts/test-quickstart.sh).
if [ $# -eq 0 ]; then bash "$repo/scripts/test-quickstart.sh" || status=$?; fi
run_as "$user" "$src" --exclude '**/*.nosubid.test.ts' "$@" || status=$?
src2=
if [ $# -eq 0 ] || printf '%s\n' "$@" | grep -q nosubid; then
  src2=$(copy_for "$nosub")
  run_as "$nosub" "$src2" --passWithNoTests nosubid || status=$?
fi
# One closing line for the whole run (both users' suites), the line CI reads.
summaries=("$src/.vitest-summary")
[ -n "$src2" ] && summaries+=("$src2/.vitest-summary")
cat "${summaries[@]}" 2>/dev/null |
  awk '{p+=$1; f+=$2; s+=$3} END {printf "tests: %d passed, %d failed, %d skipped\n", p, f, s}' || true
exit $status
