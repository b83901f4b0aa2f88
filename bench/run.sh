#!/usr/bin/env bash
# npm run bench: runs every bench/*.bench.sh (each times hutch against its anchors in one run and
# prints medians and ratios). Timings live here, never in tests. Run as root: each script drops
# to the unprivileged test user for the rootless parts. `npm run bench -- NAME` runs one.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
status=0
for script in "$here"/*.bench.sh; do
  [ -e "$script" ] || continue
  name=$(basename "$script" .bench.sh)
  if [ $# -gt 0 ] && ! printf '%s\n' "$@" | grep -qx "$name"; then continue; fi
  echo "== $name"
  bash "$script" || { echo "bench $name failed" >&2; status=1; }
done
exit $status
