#!/usr/bin/env bash
# hutch build against podman build (bench/lib.sh's: rootless, runc, overlay through
# fuse-overlayfs), as the unprivileged test user, on the same Containerfile and context: FROM
# scratch, ADD of a busybox tar, a RUN that writes 200 files, a COPY of 300 context files,
# ENV/WORKDIR/CMD.
# "first": every step run (--no-cache); "cached": an unchanged rebuild, all cache hits.
# Both without network (--network none). Run as root (npm run bench -- build); medians of RUNS runs.
set -euo pipefail
runs=${RUNS:-5}
. "$(dirname "$0")/lib.sh"
bench_init build
ctx=$work/ctx
busybox_rootfs "$work/rootfs" sh mkdir seq echo true
mkdir -p "$ctx/files"
tar --numeric-owner --owner=0 --group=0 -C "$work/rootfs" -cf "$ctx/busybox.tar" .
for i in $(seq 300); do head -c $((i * 37)) /dev/urandom > "$ctx/files/f$i"; done
cat > "$ctx/Containerfile" <<'CF'
FROM scratch
ADD busybox.tar /
RUN mkdir /out && for i in $(seq 200); do echo $i > /out/f$i; done
COPY files/ /files/
ENV A=1
WORKDIR /app
CMD ["sh"]
CF
chown -R "$user:$user" "$work"
podman_init
p=$podman
h="node $repo/bin/hutch"
trap 'podman_cleanup; rm -rf "$work"' EXIT
# A first build of each, so that the cached runs have their cache (and podman its storage).
as_user bash -c "cd $ctx && $p build --network none -q -t localhost/b . && $h build --root $work/hs --network none -q -t localhost/b ." >/dev/null

as_user bash -c "cd $ctx && hyperfine -N --style basic --runs $runs --export-json $work/result.json \
  -n podman-first '$p build --network none --no-cache -q -t localhost/b .' \
  -n hutch-first '$h build --root $work/hs --network none --no-cache -q -t localhost/b .' \
  -n podman-cached '$p build --network none -q -t localhost/b .' \
  -n hutch-cached '$h build --root $work/hs --network none -q -t localhost/b .'" >/dev/null 2>&1

node --input-type=module -e '
const med = (await import(process.argv[1])).medians(process.argv[2], "build");
for (const k of ["first", "cached"]) console.log(`hutch/podman ${k.padEnd(6)} = ${(med["hutch-" + k] / med["podman-" + k]).toFixed(2)}x`);
' "$repo/bench/report.mjs" "$work/result.json"
