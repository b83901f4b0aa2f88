#!/usr/bin/env bash
# The union of an image run through the shared daemon, in C (native/run-front-union.c, driven by
# test/fixtures/union-front.c) against the TypeScript path (`node bin/hutch run --rm IMAGE true`,
# its HUTCH_TRACE timeline), as the test user, the two in turn run by run. Rows, medians in ms:
#  - cold (HUTCH_FS_LINGER=0, no daemon before): C union_begin to mounted; TypeScript, from the
#    union's first step ("preheld shared") to "union mounted" (its CLI's parse and plan overlap);
#  - warm (a lingering daemon): the same.
# Usage (as root): RUNS=10 npm run bench -- union-front
set -euo pipefail
runs=${RUNS:-10}
. "$(dirname "$0")/lib.sh"
bench_init union-front
image=localhost/hutch-bench-union:latest
busybox_rootfs "$work/rootfs" sh true
tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
files=(run-front-union.c run-front-conf.c run-front-image.c run-front-registries.c run-front-plan.c front-util.c front-json.c front-helper.c proc-start.c)
cc -O2 -std=gnu11 -D_GNU_SOURCE -I "$repo/native" -o "$work/union-front" "$repo/test/fixtures/union-front.c" \
  "${files[@]/#/$repo/native/}" -ldl
chown -R "$user:$user" "$work"
trap 'rm -rf "$work"' EXIT

cat > "$work/loop.sh" <<EOF
set -u
h() { node $repo/bin/hutch --root $work/state "\$@"; }
h import $work/rootfs.tar $image >/dev/null
layers=\$(h image inspect $image | node -e '
const [i] = JSON.parse(require("fs").readFileSync(0, "utf8"));
for (const l of [...i.RootFS.Layers].reverse()) { const d = "$work/state/data/layers/sha256/" + l.slice(7); console.log(d + "/root " + d + "/index.hli"); }')
fsd=$work/state/run/fsd
gone() { for _ in \$(seq 400); do ls \$fsd/*.pid >/dev/null 2>&1 || return 0; sleep 0.025; done; }
c() { rm -rf $work/m; mkdir -p $work/m; echo | $work/union-front $repo $work/state/run mount $work/m \$layers | awk -v k=\$1 '/^mounted/{print "c", k, \$3}'; }
ts() { rm -f $work/trace; HUTCH_TRACE=$work/trace h run --rm --network none $image true
  awk -v k=\$1 '/ (preheld shared|shared spawn)\$/ && !b {b=\$1} / union mounted\$/{e=\$1} END{printf "ts %s %.1f\n", k, e-b}' $work/trace; }
for _ in 1 2; do HUTCH_FS_LINGER=0 ts warmup >/dev/null; gone; HUTCH_FS_LINGER=0 c warmup >/dev/null; gone; done
for _ in \$(seq $runs); do
  HUTCH_FS_LINGER=0 c cold; gone
  HUTCH_FS_LINGER=0 ts cold; gone
done
HUTCH_FS_LINGER=600 c warmup >/dev/null
for _ in \$(seq $runs); do c warm; ts warm; done
kill \$(cat \$fsd/*.pid)
EOF
as_user bash "$work/loop.sh" > "$work/times" 2>"$work/err" || true
[ -s "$work/err" ] && head -5 "$work/err" >&2

median() { awk -v s="$1" -v k="$2" '$1==s && $2==k {print $3}' "$work/times" | sort -g |
  awk '{a[NR]=$1} END{if (NR==0) {print "-"; exit} m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.1f", m}'; }
echo "the union's begin to mounted, $runs runs each in turn, medians in ms; load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-8s %8s %12s\n' daemon C TypeScript
for k in cold warm; do printf '%-8s %8s %12s\n' "$k" "$(median c $k)" "$(median ts $k)"; done
