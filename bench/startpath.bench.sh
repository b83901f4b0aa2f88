#!/usr/bin/env bash
# Start-to-exit and first answer (issue 17), this tree against BASE (another built checkout, e.g.
# main in a directory of its own), the two run in turn, run by run, as the test user: load swings
# fall on both alike. Each side has a store and a code cache of its own (one cache shared by two
# builds is rejected and rewritten at every switch). Rows, wall medians:
#  - run --rm IMAGE true;
#  - run --rm --rootfs DIR true on a tree that has every mount point hutch needs (bound as it is)
#    and on a bare one (bin/, etc/passwd: hutch puts its writable layer, a FUSE daemon, over it);
#  - the first HTTP answer through a published port after run -d -p (until wget answers); also
#    through bin/hutch as users run it (hutch-run-front, which starts the union daemon ahead of
#    Node), with the daemon cold (none runs: the last one ended, then HUTCH_FS_LINGER=0, so it
#    leaves with the container) and warm (it lingers);
#  - floors: runc run --rootless on a bundle of the tree, node -e 0.
# Usage (as root): BASE=/path/to/other/tree RUNS=10 npm run bench -- startpath; without BASE, this
# tree alone. The other tree must be built (npm run build). NICE=-15 runs the bench ahead of the
# machine's other work (what a shared machine's load does to wall times is then mostly kept out:
# overlapping steps only pay where a core is free).
set -euo pipefail
runs=${RUNS:-10}
. "$(dirname "$0")/lib.sh"
bench_init startpath
[ -z "${NICE:-}" ] || renice -n "$NICE" -p $$ >/dev/null
base=${BASE:-}
image=localhost/hutch-bench-start:latest
rootfs=$work/rootfs
bare=$work/bare
busybox_rootfs "$rootfs" sh true sleep httpd
mkdir -p "$rootfs/www" && echo hello > "$rootfs/www/index.html"
mkdir -p "$bare/bin" "$bare/etc" && cp /bin/busybox "$bare/bin/" && ln -s busybox "$bare/bin/true"
cp "$rootfs/etc/passwd" "$rootfs/etc/group" "$bare/etc/"
tar -C "$rootfs" -cf "$work/rootfs.tar" .
mkdir -p "$work/bundle"
sides=(this)
[ -n "$base" ] && sides+=(base)
for s in "${sides[@]}"; do mkdir -p "$work/$s/state" "$work/$s/cc" && chmod 700 "$work/$s/cc"; done
chown -R "$user:$user" "$work"
trap 'rm -rf "$work"' EXIT
as_user bash -c "cd $work/bundle && runc spec --rootless"
node -e '
const f = process.argv[1], c = JSON.parse(require("fs").readFileSync(f, "utf8"));
Object.assign(c.process, { args: ["true"], terminal: false }); Object.assign(c.root, { path: process.argv[2], readonly: true });
require("fs").writeFileSync(f, JSON.stringify(c));' "$work/bundle/config.json" "$rootfs"
chown -R "$user:$user" "$work/bundle"

# The loop runs as the user, in one bash: $EPOCHREALTIME costs no process start.
cat > "$work/loop.sh" <<EOF
set -u
tree() { [ "\$1" = this ] && echo "$repo" || echo "$base"; }
h() { local s=\$1; shift; HUTCH_CODE_CACHE_DIR=$work/\$s/cc node "\$(tree \$s)/bin/hutch" --root $work/\$s/state "\$@"; }
ms() { echo "\$1 \$2 \$(awk -v a="\$3" -v b="\$EPOCHREALTIME" 'BEGIN{printf "%.1f", (b - a) * 1000}')"; }
answer() { local s=\$1 p=\$((20000 + RANDOM % 30000)) t=\$EPOCHREALTIME i=0
  h \$s run -d --name ab -p 127.0.0.1:\$p:80 $image httpd -f -p 80 -h /www >/dev/null || return
  until busybox wget -q -O /dev/null "http://127.0.0.1:\$p/index.html" 2>/dev/null; do
    i=\$((i + 1)); [ \$i -lt 2000 ] || break; sleep 0.005; done
  ms \$s answer \$t; h \$s rm -f ab >/dev/null; }
# Through bin/hutch (sh, then hutch-run-front): KEY LINGER; cold (LINGER 0) ends a lingering daemon first.
daemons() { cat $work/\$1/state/run/fsd/*.pid 2>/dev/null; }
ended() { local s=\$1 pid i; for pid in \$(daemons \$s); do kill \$pid 2>/dev/null || true; done
  for i in \$(seq 500); do for pid in \$(daemons \$s); do kill -0 \$pid 2>/dev/null && { sleep 0.01; continue 2; }; done; return; done; }
answer_front() { local s=\$1 p=\$((20000 + RANDOM % 30000)) t i=0
  [ \$3 != 0 ] || ended \$s
  t=\$EPOCHREALTIME
  HUTCH_FS_LINGER=\$3 HUTCH_CODE_CACHE_DIR=$work/\$s/cc "\$(tree \$s)/bin/hutch" --root $work/\$s/state run -d --name ab -p 127.0.0.1:\$p:80 $image httpd -f -p 80 -h /www >/dev/null || return
  until busybox wget -q -O /dev/null "http://127.0.0.1:\$p/index.html" 2>/dev/null; do
    i=\$((i + 1)); [ \$i -lt 2000 ] || break; sleep 0.005; done
  ms \$s \$2 \$t; h \$s rm -f ab >/dev/null; }
for s in ${sides[*]}; do # the image in each store; first runs fill each code cache
  h \$s import $work/rootfs.tar $image >/dev/null
  for _ in 1 2; do h \$s run --rm $image true; h \$s run --rm --rootfs $rootfs true; h \$s run --rm --rootfs $bare true; answer \$s >/dev/null; done
done
for _ in \$(seq $runs); do
  for s in ${sides[*]}; do
    answer_front \$s cold 0
    t=\$EPOCHREALTIME; h \$s run --rm $image true; ms \$s image \$t
    t=\$EPOCHREALTIME; h \$s run --rm --rootfs $rootfs true; ms \$s rootfs \$t
    t=\$EPOCHREALTIME; h \$s run --rm --rootfs $bare true; ms \$s bare \$t
    answer \$s
    answer_front \$s warm 600
  done
  t=\$EPOCHREALTIME; runc --root $work/runc run -b $work/bundle ab-runc; ms - runc \$t
  t=\$EPOCHREALTIME; node -e 0; ms - node \$t
done
for s in ${sides[*]}; do ended \$s; done # the warm rows' daemons
EOF
as_user bash "$work/loop.sh" > "$work/times" 2>"$work/err" || true
[ -s "$work/err" ] && head -5 "$work/err" >&2

median() { awk -v s="$1" -v k="$2" '$1==s && $2==k {print $3}' "$work/times" | sort -g |
  awk '{a[NR]=$1} END{if (NR==0) {print "-"; exit} m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.0f", m}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a=="-" || b=="-" || b==0) print "-"; else printf "%.2f", a/b }'; }
runc_ms=$(median - runc)
echo "start paths, $runs runs each in turn, wall medians in ms; load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-52s %8s %8s %7s %9s\n' measure this base ratio "this/runc"
row() { # label key
  local a b; a=$(median this "$2"); b=$(median base "$2")
  printf '%-52s %8s %8s %7s %9s\n' "$1" "$a" "$b" "$(ratio "$a" "$b")" "$(ratio "$a" "$runc_ms")"
}
row "run --rm IMAGE true" image
row "run --rm --rootfs DIR true, DIR with its mount points" rootfs
row "run --rm --rootfs DIR true, bare DIR (writable layer)" bare
row "first answer after run -d -p IMAGE httpd" answer
row "the same through bin/hutch, union daemon cold" cold
row "the same through bin/hutch, union daemon warm" warm
echo "floors: runc run --rootless alone $runc_ms ms; node -e 0 $(median - node) ms; this: $repo${base:+; base: $base}"
