#!/usr/bin/env bash
# `hutch run --rm --network none IMAGE true` by a short name (`shortbench`: registries.conf read,
# /etc's drop-ins and aliases included, run-front-registries.c) and by the stored name, through
# the C front (bin/hutch) and through the TypeScript path (node bin/hutch), as the test user with
# the shared union daemon warm (HUTCH_FS_LINGER=600). hyperfine runs each command as its own
# series (not alternated): compare medians with the load printed.
# Usage (as root): RUNS=20 npm run bench -- run-short
set -euo pipefail
runs=${RUNS:-20}
. "$(dirname "$0")/lib.sh"
bench_init run-short
image=localhost/shortbench:latest
busybox_rootfs "$work/rootfs" sh true
tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
chown -R "$user:$user" "$work"
trap 'rm -rf "$work"' EXIT

cat > "$work/loop.sh" <<INNER
set -eu
export HUTCH_FS_LINGER=600
node $repo/bin/hutch --root $work/state import $work/rootfs.tar $image >/dev/null
HUTCH_RUN_NO_NODE=1 $repo/bin/hutch --root $work/state run --rm --network none shortbench true # the front takes it
hyperfine -N -w 3 -r $runs --export-json $work/times.json \\
  -n 'C front, short name' "$repo/bin/hutch --root $work/state run --rm --network none shortbench true" \\
  -n 'C front, stored name' "$repo/bin/hutch --root $work/state run --rm --network none $image true" \\
  -n 'node, short name' "node $repo/bin/hutch --root $work/state run --rm --network none shortbench true" >/dev/null
kill \$(cat $work/state/run/fsd/*.pid)
INNER
as_user bash "$work/loop.sh"
echo "hutch run --rm --network none IMAGE true, warm daemon, $runs runs each, medians in ms; load $(cut -d' ' -f1-3 /proc/loadavg)"
node -e '
for (const r of JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).results)
  console.log(r.command.padEnd(22), (r.median * 1000).toFixed(1));' "$work/times.json"
