#!/usr/bin/env bash
# What one container costs, hutch against rootless podman 4.3 (bench/lib.sh's: runc, its overlay
# driver with fuse-overlayfs as mount_program, in a store of its own) in one run, as the test user, on
# the same busybox tree (as an image in each store, and as --rootfs):
#  - resident memory (PSS and RSS, from /proc) of every process one `run -d -p PORT:80 IMAGE httpd`
#    leaves beside the container (hutch: monitor, FUSE daemon, forwarder, slirp4netns; podman:
#    conmon, fuse-overlayfs, slirp4netns, rootlessport), and of COUNT such containers at once;
#  - CPU seconds (user + system) of every process of `run --rm IMAGE true` and `run --rootfs DIR
#    true`, counted by a subreaper (bench/cost-reap.c), daemons that detach included;
#  - start-to-exit wall medians of the same (runc alone and `node -e 0` as floors), and of
#    `run IMAGE` and `run [--network none] --rootfs` through bin/hutch's C front and through Node.js; --rootfs on the
#    tree, which has every mount point hutch needs (bound as it is), and on a bare tree (bin/, etc/
#    passwd: hutch puts its writable layer, a FUSE daemon, over it; podman and runc would create
#    the mount points in it, so only hutch runs there);
#  - the first HTTP answer through the published port after `run -d`;
#  - podman run -d + rm with --runtime hutch-runtime against runc, the two in turn.
# hutch's union daemon lingers after its last container (HUTCH_FS_LINGER, docs/fuse.md): every row
# runs it cold (HUTCH_FS_LINGER=0: each run starts it, as after a pause), and the image run and
# first answer also warm (a daemon already running: the run after another, as podman's rows are
# with its pause process kept), the daemon's own CPU for the run added to the warm CPU row.
# Run as root (npm run bench -- cost); RUNS (default 7) runs each, COUNT (default 20) containers;
# memory is read SETTLE (default 3) seconds after the first answers: an idle container, past the
# union daemon's idle page drop (1-2 s after its last request; docs/fuse.md, "Memory").
set -euo pipefail
runs=${RUNS:-7}
count=${COUNT:-20}
settle=${SETTLE:-3}
. "$(dirname "$0")/lib.sh"
bench_init cost
image=localhost/hutch-bench-cost:latest
rootfs=$work/rootfs
busybox_rootfs "$rootfs" sh true sleep httpd
mkdir -p "$rootfs/www" && echo hello > "$rootfs/www/index.html"
bare=$work/bare
mkdir -p "$bare/bin" "$bare/etc" && cp /bin/busybox "$bare/bin/" && ln -s busybox "$bare/bin/true"
cp "$rootfs/etc/passwd" "$rootfs/etc/group" "$bare/etc/"
tar -C "$rootfs" -cf "$work/rootfs.tar" .
cc -O2 -o "$work/reap" "$repo/bench/cost-reap.c"
chown -R "$user:$user" "$work"
# The FUSE daemon's page drop (docs/fuse.md, "Memory"), its look before the sleep and its answers in
# C pass through as_user's clean environment, for A/B.
h="env ${HUTCH_FS_PAGES:+HUTCH_FS_PAGES=$HUTCH_FS_PAGES }${HUTCH_FS_IDLE_MS:+HUTCH_FS_IDLE_MS=$HUTCH_FS_IDLE_MS }"
h+="${HUTCH_FS_SPIN_US:+HUTCH_FS_SPIN_US=$HUTCH_FS_SPIN_US }${HUTCH_FS_FAST:+HUTCH_FS_FAST=$HUTCH_FS_FAST }"
H="${h}HUTCH_FS_LINGER=0 node $repo/bin/hutch --root $work/state"
HW="${h}HUTCH_FS_LINGER=600 node $repo/bin/hutch --root $work/state"
# bin/hutch through sh, as users run it: `run [--network none] --rootfs` is then native/hutch-run-front's
# (C, no Node.js start; docs/startup.md), which hands anything else to Node.js (a HUTCH_ variable too).
HC="$repo/bin/hutch --root $work/state"
# `run --rm IMAGE` through bin/hutch too: the C front (native/run-front-image.c) and its shared union daemon.
HIC="${h}HUTCH_FS_LINGER=0 $repo/bin/hutch --root $work/state"
HWC="${h}HUTCH_FS_LINGER=600 $repo/bin/hutch --root $work/state"
# A process that runs (a zombie waits for a slow init to reap it: it is gone).
live() { grep -q '^State:[[:space:]]*[^Z]' "/proc/$1/status" 2>/dev/null; }
# The union daemon of the store, if one runs (its pid file; one user and id mapping here).
daemon_pid() {
  local f pid
  for f in "$work"/state/run/fsd/*.pid; do
    pid=$(cat "$f" 2>/dev/null) && [ "$pid" -gt 1 ] 2>/dev/null && live "$pid" && { echo "$pid"; return; }
  done
}
# Waits (at most 5 s) until no union daemon of the store runs: one leaving after its last container
# holds the place's lock, and a cold run would wait for it.
gone_daemon() {
  local i=0
  while [ -n "$(daemon_pid)" ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i + 1)); done
}
# Ends a warm daemon before cold rows (a cold run would be served by it: one socket for both).
end_daemon() {
  local pid i=0
  pid=$(daemon_pid) || true
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  while live "$pid" && [ $i -lt 200 ]; do sleep 0.01; i=$((i + 1)); done
}
podman_init
P=$podman
cleanup() {
  as_user bash -c "cd /tmp && $H rm -f \$($H ps -aq)" >/dev/null 2>&1 || true
  end_daemon
  podman_cleanup
  rm -rf "$work"
}
trap cleanup EXIT
asu() { as_user bash -c "cd /tmp && $*"; }
asu "$H import $work/rootfs.tar $image" >/dev/null
asu "$P import $work/rootfs.tar $image" >/dev/null 2>&1
# First runs set up each store (and podman's pause process): keep them out of every figure.
asu "$P run --rm $image true; $H run --rm $image true" >/dev/null 2>&1

median() { sort -g | awk '{a[NR]=$1} END{if (NR==0) {print "-"; exit} m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.3f", m}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a=="-" || b=="-" || b==0) print "-"; else printf "%.2f", a/b }'; }
# hold COMMAND: runs it as the user under a subreaper that stays (bench/cost-reap.c -h), so that
# every process the command leaves is the holder's descendant; returns the command's status.
hold() {
  rm -rf "$work/hold" && mkdir "$work/hold" && chown "$user" "$work/hold"
  as_user "$work/reap" -h "$work/hold" bash -c "cd /tmp && $1" >/dev/null 2>"$work/err" &
  until [ -e "$work/hold/status" ]; do sleep 0.01; done
  return "$(cat "$work/hold/status")"
}
unhold() { kill "$(cat "$work/hold/pid")"; wait; }
memory() { busybox sh "$repo/bench/cost-mem.sh" "$(cat "$work/hold/pid")"; } # no node while it reads
port() { echo $((20000 + RANDOM % 30000)); }
answer() { # port: waits for the first HTTP answer (at most ~20 s)
  local i=0
  until busybox wget -q -O /dev/null "http://127.0.0.1:$1/index.html" 2>/dev/null; do
    i=$((i + 1)); [ "$i" -lt 2000 ] || return 1; sleep 0.01
  done
}
declare -A first firsts mem memlist cpu wall

# 1. One detached container with a published port: first answer (RUNS times), memory (the last).
detached() { # name "run command prefix" "rm command" [warm: a run first, no memory read]
  local name=$1 run=$2 rm=$3 warm=${4:-} p t0 list=()
  for _ in $(seq "$runs"); do
    [ -z "$warm" ] || asu "$run --rm --network none $image true" >/dev/null 2>&1
    [ -n "$warm" ] || gone_daemon # cold: the last run's daemon has left (not leaving, with the lock)
    p=$(port)
    t0=$(date +%s%N)
    hold "$run -d --name cost1 -p 127.0.0.1:$p:80 $image httpd -f -p 80 -h /www" || { echo "$name: $(head -1 "$work/err")" >&2; unhold; return 0; }
    answer "$p" || echo "$name: no answer on port $p" >&2
    list+=($(( ($(date +%s%N) - t0) / 1000000 )))
    if [ -z "$warm" ]; then
      sleep "$settle" # let the daemons settle to their idle size
      mem[$name]=$(memory)
    fi
    asu "$rm cost1" >/dev/null 2>&1
    unhold
  done
  first[$name]=$(printf '%s\n' "${list[@]}" | median)
  firsts[$name]=${list[*]}
}
# Through bin/hutch, as users run it: native/hutch-run-front starts the union's daemon and hands
# `run -d` to Node.js (docs/startup.md, "run -d: the union's daemon started ahead").
detached hutch "$HIC run" "$HIC rm -f"
detached hutch-warm "$HWC run" "$HWC rm -f" warm
end_daemon
detached podman "$P run" "$P rm -f -t 0"

# 2. CPU seconds of every process of one run, through the subreaper.
cpurun() { # name command
  local list=() line
  for _ in $(seq "$runs"); do
    line=$(as_user bash -c "cd /tmp && $work/reap $2 3>&2 2>/dev/null >/dev/null" 2>&1 | tail -1)
    list+=("$(awk '{printf "%.3f", $1 + $2}' <<<"$line")")
  done
  cpu[$1]=$(printf '%s\n' "${list[@]}" | median)
}
cpurun hutch-image "$HIC run --rm $image true"
cpurun hutch-image-node "$H run --rm $image true"
# Warm: the daemon is not the subreaper's; its CPU ticks over the run are added.
ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
cpuwarm() { # name command
  local list=() line d before after hz
  hz=$(getconf CLK_TCK)
  for _ in $(seq "$runs"); do
    asu "$HW run --rm --network none $image true" >/dev/null 2>&1
    d=$(daemon_pid) || true
    [ -n "$d" ] || { echo "$1: no daemon lingers" >&2; return 0; }
    before=$(ticks "$d")
    line=$(as_user bash -c "cd /tmp && $work/reap $2 3>&2 2>/dev/null >/dev/null" 2>&1 | tail -1)
    after=$(ticks "$d")
    list+=("$(awk -v t=$((after - before)) -v hz="$hz" '{printf "%.3f", $1 + $2 + t / hz}' <<<"$line")")
  done
  cpu[$1]=$(printf '%s\n' "${list[@]}" | median)
}
cpuwarm hutch-image-warm "$HWC run --rm $image true"
cpuwarm hutch-image-warm-node "$HW run --rm $image true"
end_daemon
cpurun podman-image "$P run --rm $image true"
cpurun hutch-rootfs "$HC run --rm --rootfs $rootfs true"
cpurun hutch-rootfs-node "$H run --rm --rootfs $rootfs true"
cpurun podman-rootfs "$P run --rm --rootfs $rootfs true"
cpurun hutch-rootfs-bare "$H run --rm --rootfs $bare true"
cpurun hutch-rootfs-none "$HC run --rm --network none --rootfs $rootfs true"
cpurun hutch-rootfs-none-node "$H run --rm --network none --rootfs $rootfs true"
cpurun podman-rootfs-none "$P run --rm --network none --rootfs $rootfs true"

# 3. Wall medians (hyperfine), runc alone on a bundle of the same tree as the floor of a runtime.
mkdir -p "$work/bundle" && chown "$user:$user" "$work/bundle" && as_user bash -c "cd $work/bundle && runc spec --rootless"
node -e '
const f = process.argv[1], c = JSON.parse(require("fs").readFileSync(f, "utf8"));
Object.assign(c.process, { args: ["true"], terminal: false }); Object.assign(c.root, { path: process.argv[2], readonly: true });
require("fs").writeFileSync(f, JSON.stringify(c));' "$work/bundle/config.json" "$rootfs"
chown -R "$user:$user" "$work/bundle"
asu "hyperfine -N -i --style basic --warmup 1 --runs $runs --export-json $work/wall.json \
  -n hutch-image '$HIC run --rm $image true' \
  -n hutch-image-node '$H run --rm $image true' \
  -n podman-image '$P run --rm $image true' \
  -n hutch-rootfs '$HC run --rm --rootfs $rootfs true' \
  -n hutch-rootfs-node '$H run --rm --rootfs $rootfs true' \
  -n hutch-rootfs-bare '$H run --rm --rootfs $bare true' \
  -n podman-rootfs '$P run --rm --rootfs $rootfs true' \
  -n hutch-rootfs-none '$HC run --rm --network none --rootfs $rootfs true' \
  -n hutch-rootfs-none-node '$H run --rm --network none --rootfs $rootfs true' \
  -n podman-rootfs-none '$P run --rm --network none --rootfs $rootfs true' \
  -n runc 'runc --root $work/runc run -b $work/bundle cost-runc' \
  -n node-startup 'node -e 0' \
  -n hutch-image-warm '$HWC run --rm $image true' \
  -n hutch-image-warm-node '$HW run --rm $image true'" >/dev/null 2>"$work/hyperfine.err" ||
  { echo "hyperfine: $(tail -3 "$work/hyperfine.err")" >&2; }
end_daemon # the warm rows' daemon (hyperfine runs them last)
while read -r name value; do wall[$name]=$value; done < <(node -e '
for (const r of JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).results) console.log(r.command, r.median.toFixed(3));' "$work/wall.json" 2>/dev/null)

# podman run -d + rm with runc and with hutch-runtime in turn, one round of each unmeasured, then
# RUNS: a hyperfine row runs one command's runs together, and the load of other processes drifts
# between two rows by more than the runtimes differ (docs/cost.md, nineteenth session).
cat > "$work/d-rm.sh" <<EOF
for ((i = 0; i <= $runs; i++)); do
  for rt in runc hutch-runtime; do
    flag=; [ \$rt = runc ] || flag="--runtime $repo/bin/hutch-runtime"
    t0=\$EPOCHREALTIME
    $P rm -f -t 0 "\$($P \$flag run -d --network none --rootfs $rootfs sleep 1000)" >/dev/null 2>&1
    t1=\$EPOCHREALTIME
    [ \$i = 0 ] || echo "\$rt \$t0 \$t1"
  done
done
EOF
chown "$user:$user" "$work/d-rm.sh"
asu "bash $work/d-rm.sh" >"$work/d-rm.txt" 2>/dev/null || true
for rt in runc hutch-runtime; do
  wall[podman-$rt-d-rm]=$(awk -v rt="$rt" '$1 == rt {print $3 - $2}' "$work/d-rm.txt" | median)
done

# 4. COUNT detached containers at once, each with a published port.
many() { # name "run command prefix" "rm command"
  local name=$1 ports=() t0 t0a t1 t2 script=""
  for i in $(seq "$count"); do
    ports+=("$(port)")
    script+="$2 -d --name cost-$i -p 127.0.0.1:${ports[-1]}:80 $image httpd -f -p 80 -h /www >/dev/null || exit 1; "
  done
  t0=$(date +%s%N)
  hold "$script" || echo "$name: $(head -1 "$work/err")" >&2
  for p in "${ports[@]}"; do answer "$p" || echo "$name: no answer on port $p" >&2; done
  t0a=$(date +%s%N)
  sleep "$settle"
  memlist[$name]=$(memory)
  t1=$(date +%s%N) # the rm alone, not the memory's read
  asu "$3 $(for i in $(seq "$count"); do printf 'cost-%s ' "$i"; done)" >/dev/null 2>&1
  t2=$(date +%s%N)
  unhold
  wall[$name-start]=$(awk -v d=$((t0a - t0)) 'BEGIN{printf "%.3f", d / 1e9}')
  wall[$name-rm]=$(awk -v d=$((t2 - t1)) 'BEGIN{printf "%.3f", d / 1e9}')
}
many hutch "$HIC run" "$HIC rm -f"
many podman "$P run" "$P rm -f -t 0"

mib() { node -e 'const m = JSON.parse(process.argv[1] || "{}"); const k = process.argv[2]; console.log(m[k] === undefined ? "-" : (m[k] / 1024 / (Number(process.argv[3]) || 1)).toFixed(1))' "${1:-}" "$2" "${3:-1}"; }
# procs JSON: each process name with its PSS (and of it Pss_Anon, Pss_File), MiB; averaged over the
# processes of that name when there are several (COUNT containers), their number in brackets.
procs() { node -e '
const m = JSON.parse(process.argv[1] || "{\"procs\":[]}"), by = new Map(), f = (k, n) => (k / 1024 / n).toFixed(1);
for (const p of m.procs) by.set(p.name, [...(by.get(p.name) ?? []), p]);
const sum = (l, k) => l.reduce((t, p) => t + p[k], 0);
console.log([...by].map(([name, l]) => `${name}${l.length > 1 ? ` [${l.length}]` : ""} ${f(sum(l, "pss"), l.length)} (anon ${f(sum(l, "pssAnon"), l.length)} file ${f(sum(l, "pssFile"), l.length)})`).join(", "))' "${1:-}"; }
row() { printf '%-50s %10s %10s %7s\n' "$1" "$2" "$3" "$(ratio "$2" "$3")"; }
echo "cost per container: hutch vs rootless podman --runtime runc (overlay + fuse-overlayfs), $runs runs each, medians; load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-50s %10s %10s %7s\n' measure hutch podman ratio
row "resident memory, one run -d -p, PSS MiB" "$(mib "${mem[hutch]:-}" pss)" "$(mib "${mem[podman]:-}" pss)"
row "resident memory, one run -d -p, RSS MiB" "$(mib "${mem[hutch]:-}" rss)" "$(mib "${mem[podman]:-}" rss)"
row "resident memory, $count x run -d -p, PSS MiB each" "$(mib "${memlist[hutch]:-}" pss "$count")" "$(mib "${memlist[podman]:-}" pss "$count")"
row "resident memory, $count x run -d -p, RSS MiB each" "$(mib "${memlist[hutch]:-}" rss "$count")" "$(mib "${memlist[podman]:-}" rss "$count")"
row "CPU s, run --rm IMAGE true (daemon cold)" "${cpu[hutch-image]}" "${cpu[podman-image]}"
row "CPU s, run --rm IMAGE true (daemon warm)" "${cpu[hutch-image-warm]:--}" "${cpu[podman-image]}"
row "CPU s, run --rm --rootfs DIR true" "${cpu[hutch-rootfs]}" "${cpu[podman-rootfs]}"
row "CPU s, run --rm --rootfs BARE true (layer)" "${cpu[hutch-rootfs-bare]}" "-"
row "wall s, run --rm IMAGE true (daemon cold)" "${wall[hutch-image]:--}" "${wall[podman-image]:--}"
row "wall s, run --rm IMAGE true (daemon warm)" "${wall[hutch-image-warm]:--}" "${wall[podman-image]:--}"
row "wall s, run --rm --rootfs DIR true" "${wall[hutch-rootfs]:--}" "${wall[podman-rootfs]:--}"
row "wall s, run --rm --rootfs BARE true (layer)" "${wall[hutch-rootfs-bare]:--}" "-"
row "CPU s, run --rm --network none --rootfs DIR true" "${cpu[hutch-rootfs-none]}" "${cpu[podman-rootfs-none]}"
row "wall s, run --rm --network none --rootfs DIR true" "${wall[hutch-rootfs-none]:--}" "${wall[podman-rootfs-none]:--}"
row "wall s, first answer after run -d -p (cold)" "$(awk -v m="${first[hutch]:--}" 'BEGIN{print (m=="-")?m:m/1000}')" "$(awk -v m="${first[podman]:--}" 'BEGIN{print (m=="-")?m:m/1000}')"
row "wall s, first answer after run -d -p (warm)" "$(awk -v m="${first[hutch-warm]:--}" 'BEGIN{print (m=="-")?m:m/1000}')" "$(awk -v m="${first[podman]:--}" 'BEGIN{print (m=="-")?m:m/1000}')"
row "wall s, $count x run -d -p until all answer" "${wall[hutch-start]:--}" "${wall[podman-start]:--}"
row "wall s, rm -f of $count" "${wall[hutch-rm]:--}" "${wall[podman-rm]:--}"
printf '%-50s %10s %10s %7s\n' "wall s, podman run -d + rm: hutch-runtime/runc" "${wall[podman-hutch-runtime-d-rm]:--}" "${wall[podman-runc-d-rm]:--}" "$(ratio "${wall[podman-hutch-runtime-d-rm]:--}" "${wall[podman-runc-d-rm]:--}")"
echo "floors: runc run --rootless alone ${wall[runc]:--} s (hutch --rootfs / runc $(ratio "${wall[hutch-rootfs]:--}" "${wall[runc]:--}")x, on BARE $(ratio "${wall[hutch-rootfs-bare]:--}" "${wall[runc]:--}")x); node -e 0 ${wall[node-startup]:--} s"
echo "--rootfs (the default network, slirp4netns): the C front ${wall[hutch-rootfs]:--} s, CPU ${cpu[hutch-rootfs]:--} s; the TypeScript path (node bin/hutch) ${wall[hutch-rootfs-node]:--} s, CPU ${cpu[hutch-rootfs-node]:--} s"
echo "--network none --rootfs: the C front ${wall[hutch-rootfs-none]:--} s (/ runc $(ratio "${wall[hutch-rootfs-none]:--}" "${wall[runc]:--}")x), CPU ${cpu[hutch-rootfs-none]:--} s; the TypeScript path (node bin/hutch) ${wall[hutch-rootfs-none-node]:--} s, CPU ${cpu[hutch-rootfs-none-node]:--} s"
echo "IMAGE (the default network): the C front cold ${wall[hutch-image]:--} s, CPU ${cpu[hutch-image]:--} s, warm ${wall[hutch-image-warm]:--} s, CPU ${cpu[hutch-image-warm]:--} s; the TypeScript path (node bin/hutch) cold ${wall[hutch-image-node]:--} s, CPU ${cpu[hutch-image-node]:--} s, warm ${wall[hutch-image-warm-node]:--} s, CPU ${cpu[hutch-image-warm-node]:--} s"
echo "first answers (ms): hutch cold ${firsts[hutch]:-}; hutch warm ${firsts[hutch-warm]:-}; podman ${firsts[podman]:-}"
echo "processes of one hutch container (PSS MiB, of it Pss_Anon and Pss_File): $(procs "${mem[hutch]:-}")"
echo "processes of one podman container (PSS MiB, of it Pss_Anon and Pss_File): $(procs "${mem[podman]:-}")"
echo "processes of $count hutch containers (PSS MiB each): $(procs "${memlist[hutch]:-}")"
echo "processes of $count podman containers (PSS MiB each): $(procs "${memlist[podman]:-}")"
