#!/usr/bin/env bash
# 32 jobs starting at once on one node, as a cluster's job array does: N concurrent `hutch run
# --rm` (keep-id, host network: the HPC habit) of `true` from one squashfs file (hutch squash's
# output, mounted by squashfuse per container) vs from the unpacked image store, against
# Charliecloud's ch-run on the same squashfs file and on the same tree as a directory. Wall time
# of the whole burst (hyperfine) and the CPU its processes used (bash's `times` for the burst's
# children), with ratios to hutch on the squashfs. Run as root (npm run bench -- hpc-start).
set -euo pipefail
runs=${RUNS:-3}
jobs=${JOBS:-32}
. "$(dirname "$0")/lib.sh"
bench_init hpc-start
command -v ch-run >/dev/null || { echo "hpc-start.bench: charliecloud-runtime (ch-run) is not installed" >&2; exit 1; }
image=localhost/hutch-bench-hpc:latest
trap 'rm -rf "$work"' EXIT
rootfs=$work/rootfs
busybox_rootfs "$rootfs" sh true
mkdir -p "$rootfs/home" "$rootfs/mnt"
tar -C "$rootfs" -cf "$work/rootfs.tar" .
chown -R "$user:$user" "$work"
as_user node "$repo/bin/hutch" import --root "$work/state" "$work/rootfs.tar" $image >/dev/null
as_user node "$repo/bin/hutch" squash --root "$work/state" $image -o "$work/image.sqfs"

# One burst: $jobs of one variant at once, all waited for; appends "user sys" CPU seconds of them.
cat > "$work/burst.sh" <<B
#!/usr/bin/env bash
variant=\$1
for i in \$(seq $jobs); do
  case \$variant in
    hutch-sqfs) node $repo/bin/hutch run --rm --root $work/state --userns keep-id --network host $work/image.sqfs true ;;
    hutch-store) node $repo/bin/hutch run --rm --root $work/state --userns keep-id --network host $image true ;;
    ch-run-sqfs) mkdir -p $work/mnt/\$i && ch-run -m $work/mnt/\$i $work/image.sqfs -- /bin/true ;;
    ch-run-dir) ch-run $rootfs -- /bin/true ;;
  esac >/dev/null 2>>$work/\$variant.err &
done
fail=0
for job in \$(jobs -p); do wait \$job || fail=1; done
times > $work/times.\$\$ # not in a pipeline: a subshell's times would not count the jobs
tail -1 $work/times.\$\$ | sed 's/m/ /g; s/s//g' | awk '{ print \$1*60+\$2, \$3*60+\$4 }' >> $work/\$variant.cpu
exit \$fail
B
chmod 755 "$work/burst.sh"
for v in hutch-sqfs hutch-store ch-run-sqfs ch-run-dir; do
  as_user env USER="$user" bash "$work/burst.sh" $v || { echo "hpc-start.bench: $v failed:" >&2; cat "$work/$v.err" >&2; exit 1; }
  : > "$work/$v.cpu"
done

as_user env USER="$user" bash -c "cd /tmp && hyperfine -N --style basic --runs $runs --export-json $work/result.json \
  -n hutch-sqfs 'bash $work/burst.sh hutch-sqfs' \
  -n hutch-store 'bash $work/burst.sh hutch-store' \
  -n ch-run-sqfs 'bash $work/burst.sh ch-run-sqfs' \
  -n ch-run-dir 'bash $work/burst.sh ch-run-dir'" >/dev/null 2>&1

node -e '
const fs = require("fs");
const [file, work, jobs] = process.argv.slice(1);
const r = JSON.parse(fs.readFileSync(file, "utf8")).results;
const cpu = (v) => {
  const rows = fs.readFileSync(`${work}/${v}.cpu`, "utf8").trim().split("\n").map((l) => l.split(" ").map(Number));
  return rows.reduce((n, [u, s]) => n + u + s, 0) / rows.length;
};
const base = r.find((x) => x.command === "hutch-sqfs");
console.log(`${jobs} concurrent starts of \`true\`, ${r[0].times.length} bursts each: wall time of the burst (median) and CPU of its processes (mean)`);
for (const x of r) {
  const c = cpu(x.command);
  console.log(`${x.command.padEnd(12)} ${x.median.toFixed(2)}s wall (${(x.median / base.median).toFixed(2)}x hutch-sqfs)  ${c.toFixed(2)}s CPU (${(c / cpu("hutch-sqfs")).toFixed(2)}x)  ${(x.median * 1000 / jobs).toFixed(0)} ms/job`);
}
' "$work/result.json" "$work" "$jobs"
