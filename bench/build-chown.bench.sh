#!/usr/bin/env bash
# chown in RUN with one mapped uid (docs/build.md): what the helper's seccomp listener costs. As
# the test user without a subuid range (hutchnosub), three builds of a RUN on 1000 files: only
# made (touch), made and chown'd to 0:0 (mapped: the listener lets the kernel do it, CONTINUE),
# made and chown'd to 33:33 (unmapped: recorded in the union through the listener). The per-call
# cost is the difference to the touch-only build over 1000. Run as root (npm run bench --
# build-chown); medians of RUNS runs, every step run (--no-cache).
set -euo pipefail
runs=${RUNS:-5}
. "$(dirname "$0")/lib.sh"
bench_init build-chown
user=${HUTCH_TEST_USER_NOSUBID:-hutchnosub}
home=$(getent passwd "$user" | cut -d: -f6)
ctx=$work/ctx
busybox_rootfs "$work/rootfs" sh mkdir seq touch chown
mkdir -p "$ctx"
tar --numeric-owner --owner=0 --group=0 -C "$work/rootfs" -cf "$ctx/busybox.tar" .
for kind in touch mapped unmapped; do
  owner=$([ $kind = mapped ] && echo 0:0 || echo 33:33)
  chown=$([ $kind = touch ] && echo true || echo "chown $owner /d/*")
  printf 'FROM scratch\nADD busybox.tar /\nRUN mkdir /d && cd /d && touch $(seq 1000) && %s\n' "$chown" > "$ctx/$kind"
done
chown -R "$user:$user" "$work"
h="node $repo/bin/hutch build --root $work/hs --network none --no-cache -q"
trap 'rm -rf "$work"' EXIT
as_user bash -c "cd $ctx && $h -f touch ." >/dev/null # the ADD step's layer, once

as_user bash -c "cd $ctx && hyperfine -N --style basic --runs $runs --export-json $work/result.json \
  -n touch '$h -f touch .' -n chown-mapped '$h -f mapped .' -n chown-unmapped '$h -f unmapped .'" >/dev/null 2>&1

node -e '
const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).results;
const med = Object.fromEntries(r.map((x) => [x.command, x.median]));
console.log(`build-chown (one mapped uid, 1000 files), ${r[0].times.length} runs each, median seconds`);
for (const x of r) console.log(`${x.command.padEnd(15)} ${x.median.toFixed(3)}s  (min ${x.min.toFixed(3)}, max ${x.max.toFixed(3)})`);
for (const k of ["mapped", "unmapped"])
  console.log(`per chown ${k.padEnd(8)} = ${((med["chown-" + k] - med.touch) * 1000 / 1000).toFixed(2)} ms`);
' "$work/result.json"
