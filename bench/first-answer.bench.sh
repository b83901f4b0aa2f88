#!/usr/bin/env bash
# The first answer from a published port after `hutch run -d -p PORT:80 IMAGE httpd`, through
# bin/hutch as users run it: from the shell's start of the command until busybox wget gets the
# page, the union daemon cold (none runs: each run's daemon leaves with its container,
# HUTCH_FS_LINGER=0, and the next run waits until it is gone) or warm (it lingers). Paired: with
# BASE=DIR (another built checkout of hutch) the two builds run in turn, in alternating order, each
# with its own store and code cache folder (two builds sharing one evict each other's cache),
# and it prints both medians and how many pairs each won. A shift of ~10 ms needs pairs: the
# cost bench's few runs at a time do not resolve it against the machine's drift.
# Run as root (npm run bench -- first-answer); PAIRS (default 15) runs of each.
set -euo pipefail
pairs=${PAIRS:-15}
. "$(dirname "$0")/lib.sh"
bench_init first-answer
trap 'rm -rf "$work"' EXIT
base=${BASE:-}
rootfs=$work/rootfs
busybox_rootfs "$rootfs" sh true httpd
mkdir -p "$rootfs/www" && echo hello > "$rootfs/www/index.html"
tar -C "$rootfs" -cf "$work/rootfs.tar" .
sides=(main)
declare -A build=([main]=$repo)
[ -z "$base" ] || { sides+=(base); build[base]=$(cd "$base" && pwd); }
image=localhost/hutch-bench-first-answer:latest
for side in "${sides[@]}"; do mkdir -p "$work/cache-$side" && chmod 700 "$work/cache-$side"; done
chown -R "$user:$user" "$work"
# hutch of a side, with its store and code cache (HUTCH_CODE_CACHE_DIR is one the run front honours).
h() { echo "HUTCH_CODE_CACHE_DIR=$work/cache-$1 ${build[$1]}/bin/hutch --root $work/state-$1"; }
asu() { as_user bash -c "cd /tmp && $*"; }
for side in "${sides[@]}"; do
  asu "$(h "$side") import $work/rootfs.tar $image >/dev/null && HUTCH_FS_LINGER=0 $(h "$side") run --rm --network none $image true"
done
gone() { # side: until no daemon of its store runs (one leaving holds the place's lock)
  local f i
  for i in $(seq 500); do
    for f in "$work/state-$1"/run/fsd/*.pid; do
      [ -e "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && { sleep 0.01; continue 2; }
    done
    return 0
  done
}
one() { # side linger: the first answer in ms
  local p=$((20000 + RANDOM % 30000)) t0 i
  [ "$2" != 0 ] || gone "$1"
  t0=$(date +%s%N)
  asu "HUTCH_FS_LINGER=$2 $(h "$1") run -d --name first -p 127.0.0.1:$p:80 $image httpd -f -p 80 -h /www" >/dev/null
  for i in $(seq 2000); do busybox wget -q -O /dev/null "http://127.0.0.1:$p/index.html" 2>/dev/null && break; sleep 0.01; done
  echo $((($(date +%s%N) - t0) / 1000000))
  asu "$(h "$1") rm -f first" >/dev/null 2>&1
}
median() { sort -n | awk '{a[NR]=$1} END{print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}'; }
echo "first answer after run -d -p, ms: $pairs runs of each, load $(cut -d' ' -f1-3 /proc/loadavg)"
for linger in 0 600; do
  declare -A got=()
  won=0
  for i in $(seq "$pairs"); do
    order=("${sides[@]}")
    [ $((i % 2)) = 0 ] && [ -n "$base" ] && order=(base main)
    declare -A now=()
    for side in "${order[@]}"; do now[$side]=$(one "$side" "$linger"); got[$side]+="${now[$side]} "; done
    [ -z "$base" ] || [ "${now[main]}" -ge "${now[base]}" ] || won=$((won + 1))
  done
  label=$([ "$linger" = 0 ] && echo cold || echo warm)
  line="$label: main median $(echo "${got[main]}" | tr ' ' '\n' | grep . | median) (${got[main]% })"
  [ -z "$base" ] || line+="; base median $(echo "${got[base]}" | tr ' ' '\n' | grep . | median) (${got[base]% }); main faster in $won of $pairs"
  echo "$line"
  for side in "${sides[@]}"; do # the warm daemons end
    for f in "$work/state-$side"/run/fsd/*.pid; do [ -e "$f" ] && kill "$(cat "$f")" 2>/dev/null; done
    gone "$side"
  done
done
