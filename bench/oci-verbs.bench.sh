#!/usr/bin/env bash
# The OCI face's verbs, as the unprivileged test user, against runc: `state` of a created
# container and `--version` (the start of bin/hutch-runtime; node -e 0 as the floor), and podman
# run -d + rm with --runtime bin/hutch-runtime against --runtime runc (podman calls create, start,
# kill and delete --force). BEFORE=/path/to/another/hutch checkout (built) adds its hutch-runtime
# to the same run, for a before/after at the same load.
# Run as root (npm run bench -- oci-verbs); prints medians (wall) and mean CPU (user + system).
set -euo pipefail
runs=${RUNS:-15}
. "$(dirname "$0")/lib.sh"
bench_init oci-verbs
rootfs=$work/bundle/rootfs
busybox_rootfs "$rootfs" sh true sleep
P="podman --root $work/proot --runroot $work/prun"
runtimes=(now "$repo/bin/hutch-runtime")
[ -n "${BEFORE:-}" ] && runtimes+=(before "$BEFORE/bin/hutch-runtime")
cleanup() {
  local i
  for ((i = 0; i < ${#runtimes[@]}; i += 2)); do
    as_user "${runtimes[i + 1]}" --root "$work/${runtimes[i]}" delete -f c1 >/dev/null 2>&1 || true
  done
  as_user bash -c "cd /tmp && $P rm -f -a -t 0; runc --root $work/runc delete -f r1; $P unshare rm -rf $work/proot $work/prun" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
chown -R "$user:$user" "$work"
as_user bash -c "cd $work/bundle && runc spec --rootless && node -e '
const f = \"config.json\", c = JSON.parse(require(\"fs\").readFileSync(f, \"utf8\"));
Object.assign(c.process, { args: [\"sleep\", \"100000\"], terminal: false });
require(\"fs\").writeFileSync(f, JSON.stringify(c));'"
args=()
for ((i = 0; i < ${#runtimes[@]}; i += 2)); do
  name=${runtimes[i]} rt=${runtimes[i + 1]}
  as_user bash -c "cd $work/bundle && $rt --root $work/$name create -b . c1 </dev/null >/dev/null 2>&1"
  args+=(-n "$name-state" "$rt --root $work/$name state c1" -n "$name-version" "$rt --version")
  args+=(-n "podman-$name-d-rm" "sh -c \"$P rm -f -t 0 \\\$($P --runtime $rt run -d --network none --rootfs $rootfs sleep 1000)\"")
done
as_user bash -c "cd $work/bundle && runc --root $work/runc create r1 </dev/null >/dev/null 2>&1"
args+=(-n runc-state "runc --root $work/runc state r1" -n node-startup "node -e 0")
args+=(-n podman-runc-d-rm "sh -c \"$P rm -f -t 0 \\\$($P --runtime runc run -d --network none --rootfs $rootfs sleep 1000)\"")
# First runs set up podman's store and pause process, and each runtime's code cache.
as_user bash -c "cd /tmp && $P --runtime runc run --rm --network none --rootfs $rootfs true" >/dev/null
quoted=$(printf '%q ' "${args[@]}")
as_user bash -c "cd /tmp && hyperfine -N -i --style basic --warmup 2 --runs $runs --export-json $work/r.json $quoted" >/dev/null 2>"$work/err" ||
  { echo "hyperfine: $(tail -3 "$work/err")" >&2; exit 1; }
node -e '
const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).results;
const by = Object.fromEntries(r.map((x) => [x.command, x]));
console.log(`OCI verbs, ${r[0].times.length} runs each; load ${require("fs").readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")}`);
console.log(`${"".padEnd(24)} ${"wall s".padStart(8)} ${"cpu s".padStart(8)}`);
for (const x of r) console.log(`${x.command.padEnd(24)} ${x.median.toFixed(3).padStart(8)} ${(x.user + x.system).toFixed(3).padStart(8)}`);
const ratio = (a, b) => (by[a] && by[b] ? (by[a].median / by[b].median).toFixed(2) + "x" : "-");
for (const n of ["now", "before"]) if (by[`${n}-state`])
  console.log(`${n}: state / runc state ${ratio(`${n}-state`, "runc-state")}; podman run -d + rm with hutch-runtime / runc ${ratio(`podman-${n}-d-rm`, "podman-runc-d-rm")}`);
' "$work/r.json"
