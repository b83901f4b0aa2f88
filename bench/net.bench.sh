#!/usr/bin/env bash
# Network throughput and first-connection latency: hutch's net/ (slirp4netns with hutch's own
# port forwarder, slirp4netns with its add_hostfwd, pasta) against rootless
# `podman run --network slirp4netns|pasta` (bench/lib.sh's podman, runc; its default rootlesskit port
# handler; Debian 12's podman 4.3 has no pasta mode, so that row stays empty). iperf3 (Debian) through a published port on 127.0.0.1: host->container (client on
# the host sends) and container->host (-R: the server in the container sends), SECS seconds each,
# REPS times; medians in Gbit/s and ratios hutch/podman. First connection: from start until an
# HTTP answer comes back through the published port (hutch-*: stand-in namespace + network +
# httpd; hutch-run-*: the real `hutch run -d -p`; podman: `podman run -d` of httpd).
# Run as root (drops to the test user); the tree must be built (npm run build).
set -euo pipefail
secs=${SECS:-2}
reps=${REPS:-3}
. "$(dirname "$0")/lib.sh"
bench_init net
trap 'podman_cleanup; rm -rf "$work"' EXIT
[ -e "$repo/dist/net/index.js" ] || { echo "net.bench: run npm run build first" >&2; exit 1; }
tar -C "$repo" --exclude=.git -cf - bench bin dist native/hutch-nsexec native/hutch-forwarder node_modules package.json | tar -C "$work" -xf -
chown -R "$user:" "$work"
# Over lib.sh's: the user's home and runtime folder are in $work, beside the copy of the tree.
as_user() { runuser -u "$user" -- env -i HOME="$work" PATH=/usr/local/bin:/usr/bin:/bin XDG_RUNTIME_DIR="$work/run" "$@"; }
as_user mkdir -p "$work/run"
podman_init

# A rootfs for podman: iperf3, its libraries, busybox and a page to serve.
rootfs=$work/rootfs
mkdir -p "$rootfs/bin" "$rootfs/www" "$rootfs/tmp"
cp /usr/bin/iperf3 /bin/busybox "$rootfs/bin/"
for lib in $(ldd /usr/bin/iperf3 | grep -o '/[^ ]*'); do mkdir -p "$rootfs$(dirname "$lib")"; cp -L "$lib" "$rootfs$lib"; done
echo hello > "$rootfs/www/index.html"
chown -R "$user:" "$rootfs"

median() { sort -g | awk '{a[NR]=$1} END{m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.2f", m}'; }
gbits() { as_user node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s);console.log(((j.end.sum_received||j.end.sum).bits_per_second/1e9).toFixed(3))})'; }
# iperf3 client from the host to PORT: prints "up down" medians (Gbit/s)
measure() {
  local port=$1 up=() down=()
  for _ in $(seq "$reps"); do
    up+=("$(as_user iperf3 -c 127.0.0.1 -p "$port" -t "$secs" -J | gbits)")
    down+=("$(as_user iperf3 -c 127.0.0.1 -p "$port" -t "$secs" -R -J | gbits)")
  done
  echo "$(printf '%s\n' "${up[@]}" | median) $(printf '%s\n' "${down[@]}" | median)"
}

declare -A up down first
declare -A netup netdown
hutch_case() { # name network [uplink-port]
  local name=$1 network=$2 uplink=${3:-}
  coproc STANDIN { as_user UPLINK_PORT="$uplink" SECS="$secs" node "$work/bench/net-stand-in.mjs" "$network" "$rootfs/www"; }
  local line; read -r line <&"${STANDIN[0]}"
  local port; port=$(sed 's/.*"iperfPort":\([0-9]*\).*/\1/' <<<"$line")
  first[$name]=$(sed 's/.*"firstMs":\([0-9]*\).*/\1/' <<<"$line")
  if [ -n "$uplink" ]; then
    netup[$name]=$(sed 's/.*"uplink":\["\([^"]*\)".*/\1/' <<<"$line")
    netdown[$name]=$(sed 's/.*"uplink":\["[^"]*","\([^"]*\)".*/\1/' <<<"$line")
  fi
  sleep 0.3 # iperf3 -s starting in the namespace
  read -r up[$name] down[$name] < <(measure "$port")
  exec {STANDIN[1]}>&-
  wait "$STANDIN_PID" || true
}
podman_case() { # name network
  local name=$1 network=$2 iport=$((20000 + RANDOM % 20000)) hport=$((40000 + RANDOM % 20000)) t0
  t0=$(date +%s%N)
  if ! as_user bash -c "cd $work && $podman run -d --name hn-$name-h --network $network -p 127.0.0.1:$hport:8080 --rootfs $rootfs /bin/busybox httpd -f -p 8080 -h /www" >/dev/null 2>"$work/podman.err"; then
    echo "podman --network $network: $(head -1 "$work/podman.err")" >&2; return 0
  fi
  until as_user busybox wget -q -O /dev/null "http://127.0.0.1:$hport/index.html" 2>/dev/null; do :; done
  first[$name]=$(( ($(date +%s%N) - t0) / 1000000 ))
  as_user bash -c "cd $work && $podman run -d --name hn-$name-i --network $network -p 127.0.0.1:$iport:5201 --rootfs $rootfs /bin/iperf3 -s" >/dev/null
  sleep 0.5
  read -r up[$name] down[$name] < <(measure "$iport")
  as_user bash -c "cd $work && $podman rm -f -t 0 hn-$name-h hn-$name-i" >/dev/null 2>&1 || true
}

# The real `hutch run -d -p` (the rootfs above; iperf3's libraries are in it): first HTTP answer
# after `hutch run -d`, then iperf3 -s in a second container.
hutch_run() { as_user node "$work/bin/hutch" run --root "$work/hroot" -d "$@"; }
hutch_run_case() { # name network
  local name=$1 network=$2 iport=$((20000 + RANDOM % 20000)) hport=$((40000 + RANDOM % 20000)) t0 i=0
  t0=$(date +%s%N)
  if ! hutch_run --name "hr-$name-h" --network "$network" -p "127.0.0.1:$hport:8080" --rootfs "$rootfs" /bin/busybox httpd -f -p 8080 -h /www >/dev/null 2>"$work/hutch.err"; then
    echo "hutch run --network $network: $(head -1 "$work/hutch.err")" >&2; return 0
  fi
  until as_user busybox wget -q -O /dev/null "http://127.0.0.1:$hport/index.html" 2>/dev/null; do i=$((i + 1)); [ "$i" -lt 5000 ] || return 0; done
  first[$name]=$(( ($(date +%s%N) - t0) / 1000000 ))
  hutch_run --name "hr-$name-i" --network "$network" -p "127.0.0.1:$iport:5201" --rootfs "$rootfs" /bin/iperf3 -s >/dev/null
  sleep 0.5 # iperf3 -s starting in the container
  read -r up[$name] down[$name] < <(measure "$iport")
  as_user node "$work/bin/hutch" rm -f --root "$work/hroot" "hr-$name-h" "hr-$name-i" >/dev/null 2>&1 || true
}

uplink_port=$((20000 + RANDOM % 20000))
as_user iperf3 -s -D -I "$work/run/uplink.pid" -B 127.0.0.1 -p "$uplink_port"
hutch_case hutch-slirp slirp4netns
hutch_case hutch-slirp-hostfwd slirp4netns:port_handler=slirp4netns,allow_host_loopback=true "$uplink_port"
hutch_case hutch-pasta pasta "$uplink_port"
kill "$(cat "$work/run/uplink.pid")" 2>/dev/null || true
hutch_run_case hutch-run-slirp slirp4netns
hutch_run_case hutch-run-pasta pasta
podman_case podman-slirp slirp4netns
podman_case podman-pasta pasta

echo "TCP through a published port on 127.0.0.1, iperf3 ${secs}s x $reps, medians (Gbit/s); first HTTP answer after start (ms)"
printf '%-22s %14s %14s %10s\n' case host-\>ctr ctr-\>host first-ms
for name in hutch-slirp hutch-slirp-hostfwd hutch-pasta hutch-run-slirp hutch-run-pasta podman-slirp podman-pasta; do
  printf '%-22s %14s %14s %10s\n' "$name" "${up[$name]:--}" "${down[$name]:--}" "${first[$name]:--}"
done
echo "the namespace's own route to the host's 127.0.0.1 (slirp4netns: 10.0.2.2 with allow_host_loopback; pasta: its gateway), iperf3 ${secs}s once (Gbit/s)"
for name in hutch-slirp-hostfwd hutch-pasta; do
  printf '%-22s %14s %14s\n' "$name" "${netup[$name]:--}" "${netdown[$name]:--}"
done
ratio() { awk -v a="${1:-}" -v b="${2:-}" 'BEGIN{ if (a=="" || b=="" || b==0) print "-"; else printf "%.2f", a/b }'; }
echo "ratios hutch/podman (throughput: >1 is faster; first-ms: <1 is faster)"
for pair in "hutch-slirp podman-slirp" "hutch-slirp-hostfwd podman-slirp" "hutch-pasta podman-pasta" "hutch-run-slirp podman-slirp" "hutch-run-pasta podman-pasta"; do
  set -- $pair
  printf '%-36s %8s %8s %8s\n' "$1/$2" "$(ratio "${up[$1]:-}" "${up[$2]:-}")" "$(ratio "${down[$1]:-}" "${down[$2]:-}")" "$(ratio "${first[$1]:-}" "${first[$2]:-}")"
done
