#!/usr/bin/env bash
# The lifecycle and the OCI runtime face, as the unprivileged test user, on a busybox rootfs:
# podman run --rm (bench/lib.sh's) with runc vs with bin/hutch-runtime (one-shot); hutch run -d +
# rm -f; hutch exec.
# Run as root (npm run bench -- lifecycle); prints medians of RUNS runs.
set -euo pipefail
runs=${RUNS:-7}
. "$(dirname "$0")/lib.sh"
bench_init lifecycle
rootfs=$work/rootfs
busybox_rootfs "$rootfs" sh true sleep
chown -R "$user:$user" "$work"
podman_init
trap 'as_user node "$repo/bin/hutch" rm -f --root "$work/state" box >/dev/null 2>&1 || true; podman_cleanup; rm -rf "$work"' EXIT
h="node $repo/bin/hutch"
as_user bash -c "cd /tmp && $podman run --rm --rootfs $rootfs true" 2>/dev/null
as_user $h run -d --name box --root "$work/state" --rootfs "$rootfs" -- sleep 100000 >/dev/null

as_user bash -c "cd /tmp && hyperfine -N --style basic --warmup 1 --runs $runs --export-json $work/result.json \
  -n podman-runc '$podman run --rm --network none --rootfs $rootfs true' \
  -n podman-hutch-runtime '$podman run --rm --network none --runtime $repo/bin/hutch-runtime --rootfs $rootfs true' \
  -n hutch-run-d-rm 'sh -c \"$h rm -f --root $work/state \\\$($h run -d --root $work/state --rootfs $rootfs -- sleep 1000)\"' \
  -n hutch-exec '$h exec --root $work/state box true' \
  -n hutch-ps '$h ps -a --root $work/state'" >/dev/null 2>&1

node --input-type=module -e '
const med = (await import(process.argv[1])).medians(process.argv[2], "lifecycle");
console.log(`podman with hutch-runtime / with runc = ${(med["podman-hutch-runtime"] / med["podman-runc"]).toFixed(2)}x`);
' "$repo/bench/report.mjs" "$work/result.json"
