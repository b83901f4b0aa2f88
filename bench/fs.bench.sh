#!/usr/bin/env bash
# The union filesystem against fuse-overlayfs and kernel overlayfs, inside a user namespace as
# the test user, over the same lower tree (a copy of /usr/share and /usr/include, ~55k files, plus
# a 1 GiB and a 512 MiB file), upper layer on tmpfs. Each workload runs on a fresh mount, RUNS
# times; prints medians (seconds) and the ratios hutch/fuse-overlayfs and hutch/overlayfs (hutch:
# plain lower directories as fuse-overlayfs takes them; hutch+index: with an HLI1 index, as
# hutch's store keeps layers).
# Run as root (npm run bench -- fs); CPUS (e.g. 0) pins everything to those CPUs; BENCH_DIR (default /var/tmp/hutch-bench-fs) keeps the tree.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
user=${HUTCH_TEST_USER:-hutchtest}
dir=${BENCH_DIR:-/var/tmp/hutch-bench-fs}
runs=${RUNS:-3}
# FS and WORK narrow a run (e.g. FS="hutch-index fuse-overlayfs" WORK=untar10k); the table shows what ran.
# hutch-shared: the indexed mount served as `hutch run` serves it by default, by the shared union
# daemon (fuse/shared.ts) through a holder (native/fs-holder.c); hutch-shared-N: with N idle other
# sessions (small mounts) in the same daemon, whose fds its loop waits on too.
fses=${FS:-hutch hutch-index fuse-overlayfs overlay}
works=${WORK:-find tar cat4 read1g untar10k rmtree renametree copyup512m compile}

if [ ! -e "$dir/.ready" ]; then
  rm -rf "$dir"
  mkdir -p "$dir/lower/usr" "$dir/lower/big" "$dir/small/src"
  cp -a /usr/share /usr/include "$dir/lower/usr/"
  head -c 1G /dev/urandom > "$dir/lower/big/1g"
  head -c 512M /dev/urandom > "$dir/lower/big/512m"
  for d in $(seq 100); do mkdir -p "$dir/small/src/d$d"; for f in $(seq 100); do head -c $((RANDOM % 4096 + 64)) /dev/urandom > "$dir/small/src/d$d/f$f"; done; done
  tar -C "$dir/small/src" -cf "$dir/small/10k.tar" .
  rm -rf "$dir/small/src"
  mkdir -p "$dir/cproj"
  for i in $(seq 24); do printf '#include <stdio.h>\n#include <string.h>\n#include <stdlib.h>\nint f%d(int x){char b[64];snprintf(b,sizeof b,"%%d",x);return (int)strlen(b)+x*%d;}\n' "$i" "$i" > "$dir/cproj/f$i.c"; done
  printf 'int f1(int);\nint main(void){return f1(3)>0?0:1;}\n' > "$dir/cproj/main.c"
  chown -R "$user:$user" "$dir"
  touch "$dir/.ready"
fi
(cd "$repo" && [ -e dist/fuse/daemon.js ] || npm run -s build)
# hutch's own mode: the same lower tree with an HLI1 metadata index, as the store keeps layers.
[ -e "$dir/lower.hli" ] || node "$repo/bench/fs-index.mjs" "$dir/lower" "$dir/lower.hli" >/dev/null
chmod 755 "$dir"

inner=$(mktemp /tmp/hutch-bench-fs-XXXX.sh)
chmod 755 "$inner"
cat > "$inner" <<'INNER'
set -euo pipefail
dir=$1 repo=$2 runs=$3 fses=$4 works=$5
t=$(mktemp -d /tmp/hutch-bench-ns-XXXX)
mount -t tmpfs -o size=4g tmpfs "$t"
mnt=$t/mnt
# FUSE daemons run in the foreground (-f) so that their CPU time can be read before unmounting.
pid=
# The shared daemon: started as shared-union.ts starts it (minus the launcher: the bench already
# is root of a user namespace), HUTCH_FS_READY_FD its "ok"; each mount a holder in its waiting
# mode (the line SOCKET MOUNTPOINT FSNAME FLAGS LOG ARGS on fd 0), "ok" on its fd 1.
sock=$t/fsd
others=()
waitok() { # file what
  for _ in $(seq 200); do grep -q ok "$1" 2>/dev/null && return 0; sleep 0.05; done
  echo "bench: $2 did not start: $(cat "$1" 2>/dev/null)" >&2; return 1
}
hold() { # mountpoint options
  printf '%s\t%s\thutch-fs\t-\t\t{"args":["-o","%s","%s"]}\n' "$sock" "$1" "$2" "$1" |
    "$repo/native/hutch-fs-holder" - >"$1.ready" 2>/dev/null &
  waitok "$1.ready" "the holder of $1"
}
shared() { # idle-sessions
  rm -f "$sock" "$sock".*
  HUTCH_FS_LINGER=0 HUTCH_FS_SHARED_SOCKET=$sock HUTCH_FS_SHARED_LOCK=$sock.lock HUTCH_FS_READY_FD=3 \
    node "$repo/dist/fuse/daemon-main.js" 3>"$sock.ready" 2>>"$t/fsd.log" & pid=$!
  waitok "$sock.ready" "the shared union daemon"
  others=()
  for i in $(seq "$1"); do
    o=$t/o$i; rm -rf "$o"; mkdir -p "$o/lo/d" "$o/up" "$o/wk" "$o/mnt"; echo x > "$o/lo/d/f"
    hold "$o/mnt" "lowerdir=$o/lo,upperdir=$o/up,workdir=$o/wk"; others+=("$o/mnt")
  done
  hold "$mnt" "lowerdir=$dir/lower,lowerindex=$dir/lower.hli,upperdir=$t/up,workdir=$t/wk"
}
mountfs() { # fs
  rm -rf "$t/up" "$t/wk"; mkdir -p "$t/up" "$t/wk" "$mnt"
  pid=
  case $1 in
    hutch-shared) shared 0 ;;
    hutch-shared-*) shared "${1#hutch-shared-}" ;;
    hutch) "$repo/bin/hutch-fs" -f -o "lowerdir=$dir/lower,upperdir=$t/up,workdir=$t/wk" "$mnt" & pid=$! ;;
    hutch-index) "$repo/bin/hutch-fs" -f -o "lowerdir=$dir/lower,lowerindex=$dir/lower.hli,upperdir=$t/up,workdir=$t/wk" "$mnt" & pid=$! ;;
    fuse-overlayfs) fuse-overlayfs -f -o "lowerdir=$dir/lower,upperdir=$t/up,workdir=$t/wk" "$mnt" 2>/dev/null & pid=$! ;;
    overlay) mount -t overlay overlay -o "lowerdir=$dir/lower,upperdir=$t/up,workdir=$t/wk,userxattr" "$mnt" ;;
  esac
  if [ -n "$pid" ]; then for _ in $(seq 100); do grep -q " $mnt " /proc/self/mountinfo && break; sleep 0.05; done; fi
}
cpu() { [ -n "$pid" ] && awk '{printf "%.2f", ($14 + $15) / 100}' "/proc/$pid/stat" || echo 0; }
# The daemon's peak resident memory (MB) over the mount's life, read before unmounting.
hwm() { [ -n "$pid" ] && awk '/^VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$pid/status" || echo 0; }
# The shared daemon leaves once its last session is gone (each holder then exits 1: not waited).
umountfs() { umount "$mnt"; for o in "${others[@]}"; do umount "$o"; done; others=(); [ -z "$pid" ] || wait "$pid" || true; }
work() { # name
  case $1 in
    find) find "$mnt/usr" -type f | wc -l >/dev/null ;;
    tar) tar -C "$mnt/usr" -cf - . | wc -c >/dev/null ;;
    # Every file read by four readers at once (the kernel then sends READs in parallel).
    cat4) find "$mnt/usr" -type f -print0 | xargs -0 -P4 cat >/dev/null ;;
    read1g) cat "$mnt/big/1g" >/dev/null ;;
    untar10k) mkdir "$mnt/untar" && tar -C "$mnt/untar" -xf "$dir/small/10k.tar" ;;
    rmtree) rm -rf "$mnt/usr/share/doc" ;;
    # A lower directory renamed (8.7k entries, 129 MB): hutch-fs copies it up whole in the one
    # rename(2); fuse-overlayfs and overlayfs answer EXDEV and mv copies and deletes it instead.
    renametree) mv "$mnt/usr/include" "$mnt/usr/include.moved" ;;
    copyup512m) echo x >> "$mnt/big/512m" ;;
    compile) mkdir "$mnt/c" && cp "$dir"/cproj/*.c "$mnt/c/" && (cd "$mnt/c" && for f in *.c; do gcc -O1 -c "$f"; done && gcc -o prog *.o && ./prog) ;;
  esac
}
for fs in $fses; do
  for w in $works; do
    for r in $(seq "$runs"); do
      mountfs "$fs"
      c0=$(cpu); s=$(date +%s.%N); work "$w"; e=$(date +%s.%N); c1=$(cpu); m=$(hwm)
      umountfs
      echo "$fs $w $(awk -v s="$s" -v e="$e" 'BEGIN {printf "%.3f", e - s}') $(awk -v a="$c0" -v b="$c1" 'BEGIN {printf "%.2f", b - a}') $m"
    done
  done
done
umount "$t"; rmdir "$t"
INNER
# CPUS=0 pins the workload and the daemons to one CPU: on 2 idle cores every FUSE round trip
# otherwise wakes the other CPU (untar10k: ~4.7 s instead of ~1.4 s, for fuse-overlayfs alike),
# and how often that happens depends on the machine's load more than on the daemon.
pin=(); [ -z "${CPUS:-}" ] || pin=(taskset -c "$CPUS")
out=$(cd /tmp && "${pin[@]}" runuser -u "$user" -- unshare --user --map-root-user --mount bash "$inner" "$dir" "$repo" "$runs" "$fses" "$works")
rm -f "$inner"
# The raw rows (fs workload wall cpu peak-rss-MB), for a later look; BENCH_RAW names the file.
[ -z "${BENCH_RAW:-}" ] || echo "$out" > "$BENCH_RAW"
# A file system left out of the run (FS=...) has no rows: it shows as 0.
median() { sort -n | awk '{a[NR]=$1} END {print NR == 0 ? 0 : (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
col() { echo "$out" | awk -v f="$1" -v w="$2" -v c="$3" '$1==f && $2==w {print $c}' | median; }
echo "wall seconds (median of $runs, fresh mount each${CPUS:+, on CPUs $CPUS}); daemon CPU seconds in brackets; load: $(cut -d' ' -f1-3 /proc/loadavg)"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else printf "-"}'; }
# One column per file system that ran, then each FUSE one against fuse-overlayfs and overlayfs.
fuses=(); for f in $fses; do case $f in fuse-overlayfs | overlay) ;; *) fuses+=("$f") ;; esac; done
printf '%-11s' workload; for f in $fses; do printf ' %17s' "$f"; done
for f in "${fuses[@]}"; do printf ' %14s' "$f/fovl"; done; for f in "${fuses[@]}"; do printf ' %14s' "$f/ovl"; done; echo
for w in $works; do
  printf '%-11s' "$w"; for f in $fses; do printf ' %9.3f [%5.2f]' "$(col "$f" "$w" 3)" "$(col "$f" "$w" 4)"; done
  for f in "${fuses[@]}"; do printf ' %14s' "$(ratio "$(col "$f" "$w" 3)" "$(col fuse-overlayfs "$w" 3)")"; done
  for f in "${fuses[@]}"; do printf ' %14s' "$(ratio "$(col "$f" "$w" 3)" "$(col overlay "$w" 3)")"; done
  echo
done
echo "daemon peak RSS, MB (median): $(for f in "${fuses[@]}" fuse-overlayfs; do printf '%s' "$f"; for w in $works; do printf ' %s=%s' "$w" "$(col "$f" "$w" 5)"; done; printf '; '; done)"
