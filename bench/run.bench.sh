#!/usr/bin/env bash
# Start-to-exit time of one container running `true` on the same busybox rootfs, as the
# unprivileged test user: hutch run vs bwrap --unshare-all vs rootless podman with runc
# (bench/lib.sh's; and a bare `node -e 0`, the floor of any Node CLI); then the same tree as an
# image in each store (hutch's union filesystem vs podman's storage driver).
# Run as root (npm run bench -- run); prints medians of RUNS runs and the ratios to hutch.
set -euo pipefail
runs=${RUNS:-15}
. "$(dirname "$0")/lib.sh"
bench_init run
image=localhost/hutch-bench-run:latest
trap 'podman_cleanup; rm -rf "$work"' EXIT
rootfs=$work/rootfs
busybox_rootfs "$rootfs" sh true
tar -C "$rootfs" -cf "$work/rootfs.tar" .
# The same tree lacking the files hutch mounts over: it runs on a writable layer (the union).
cp -a "$rootfs" "$work/bare" && rm "$work/bare/etc/hosts" "$work/bare/etc/hostname" "$work/bare/etc/resolv.conf"
chown -R "$user:$user" "$work"
podman_init
as_user node "$repo/bin/hutch" import --root "$work/state" "$work/rootfs.tar" $image >/dev/null
as_user bash -c "cd /tmp && $podman import $work/rootfs.tar $image" >/dev/null 2>&1

# podman's first run sets up its storage; keep that out of the timing.
as_user bash -c "cd /tmp && $podman run --rm --rootfs $rootfs true" 2>/dev/null

as_user bash -c "cd /tmp && hyperfine -N --style basic --warmup 2 --runs $runs --export-json $work/result.json \
  -n hutch 'node $repo/bin/hutch run --root $work/state --rootfs $rootfs -- true' \
  -n hutch-layer 'node $repo/bin/hutch run --root $work/state --rootfs $work/bare -- true' \
  -n bwrap 'bwrap --unshare-all --bind $rootfs / --proc /proc --dev /dev /bin/true' \
  -n podman '$podman run --rm --rootfs $rootfs true' \
  -n node-startup 'node -e 0' \
  -n hutch-image 'node $repo/bin/hutch run --rm --root $work/state $image true' \
  -n podman-image '$podman run --rm $image true'" >/dev/null 2>&1

node --input-type=module -e '
const med = (await import(process.argv[1])).medians(process.argv[2], "hutch run vs bwrap vs podman (runc)", "hutch");
console.log(`podman / hutch = ${(med.podman / med.hutch).toFixed(2)}x; hutch / bwrap = ${(med.hutch / med.bwrap).toFixed(2)}x`);
console.log(`as images: podman / hutch = ${(med["podman-image"] / med["hutch-image"]).toFixed(2)}x (hutch: FUSE union filesystem; podman: ${process.argv[3]})`);
console.log(`a --rootfs tree lacking etc/hosts, etc/hostname, etc/resolv.conf (on the writable layer): ${(med["hutch-layer"] / med.hutch).toFixed(2)}x hutch`);
console.log(`(node-startup is a bare \`node -e 0\`: the floor of any Node CLI; hutch above it: ${((med.hutch - med["node-startup"]) * 1000).toFixed(0)} ms)`);
// Wall medians swing with the load, CPU seconds much less (bench cost also counts detached daemons).
const cpu = JSON.parse((await import("node:fs")).readFileSync(process.argv[2], "utf8")).results.map((r) => `${r.command} ${(r.user + r.system).toFixed(3)}`);
console.log(`CPU s (user + system, means; a command and the children it waits for): ${cpu.join(", ")}`);
' "$repo/bench/report.mjs" "$work/result.json" "$(as_user $podman info --format '{{.Store.GraphDriverName}}' 2>/dev/null)"
