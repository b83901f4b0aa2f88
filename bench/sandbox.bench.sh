#!/usr/bin/env bash
# `hutch sandbox` against bubblewrap on the same command and the same confinement, as the
# unprivileged test user: new user, pid, net, ipc and uts namespaces, a tmpfs root with the host's
# /usr and /etc read-only, the host's /bin-style symlinks, fresh /proc and /dev, private /tmp and
# home, a new session. (hutch adds the default seccomp profile and no capabilities; bwrap, given no
# --seccomp, installs no filter.) Commands: `true`, and `sh -c 'ls /usr/bin | wc -l'`.
# `hutch` is bin/hutch as a user runs it (sh, which execs the C fast path native/hutch-sandbox);
# `hutch-node` the TypeScript path (`node bin/hutch sandbox`). Also what bin/hutch's sh
# dispatcher costs every other command: `hutch --version` through it and straight under node.
# Run as root (npm run bench -- sandbox); prints start-to-exit medians, mean CPU seconds (user +
# system, hyperfine's), and the ratios hutch / bwrap, all from one hyperfine run.
set -euo pipefail
runs=${RUNS:-20}
. "$(dirname "$0")/lib.sh"
bench_init sandbox
trap 'rm -rf "$work"' EXIT
chown "$user:$user" "$work"
command -v bwrap >/dev/null || { echo "sandbox.bench: bwrap is not installed (Debian's bubblewrap)" >&2; exit 1; }

# bwrap's flags for what hutch sandbox does by default: the host's top-level symlinks as symlinks.
links=
for top in /bin /sbin /lib /lib32 /lib64 /libx32; do
  if [ -L "$top" ]; then links="$links --symlink $(readlink "$top") $top"
  elif [ -d "$top" ]; then links="$links --ro-bind $top $top"; fi
done
opt=; [ -d /opt ] && opt='--ro-bind /opt /opt'
bwrap="bwrap --unshare-user --unshare-pid --unshare-net --unshare-ipc --unshare-uts --die-with-parent \
  --ro-bind /usr /usr --ro-bind /etc /etc $opt $links --proc /proc --dev /dev --tmpfs /tmp --tmpfs $home --new-session"
hutch="$repo/bin/hutch sandbox"
hutch_node="node $repo/bin/hutch sandbox"
ls_cmd="sh -c 'ls /usr/bin | wc -l'"

# One run first: the code cache and the compiled seccomp filter are made by the first start.
as_user bash -c "cd /tmp && $hutch -- true && $hutch_node -- true"
as_user bash -c "cd /tmp && hyperfine -N --style basic --warmup 3 --runs $runs --export-json $work/result.json \
  -n hutch-true '$hutch -- true' \
  -n bwrap-true '$bwrap true' \
  -n hutch-ls \"$hutch -- $ls_cmd\" \
  -n bwrap-ls \"$bwrap $ls_cmd\" \
  -n hutch-node-true '$hutch_node -- true' \
  -n node-startup 'node -e 0' \
  -n version-sh '$repo/bin/hutch --version' \
  -n version-node 'node $repo/bin/hutch --version'" >/dev/null 2>&1

node -e '
const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).results;
const by = Object.fromEntries(r.map((x) => [x.command, x]));
const cpu = (x) => x.user + x.system;
console.log(`hutch sandbox vs bwrap, ${r[0].times.length} runs each: start-to-exit median seconds, CPU (user+system) mean seconds`);
for (const x of r) console.log(`${x.command.padEnd(15)} ${x.median.toFixed(3)}s (min ${x.min.toFixed(3)}, max ${x.max.toFixed(3)})  cpu ${cpu(x).toFixed(3)}s`);
for (const c of ["true", "ls"]) {
  const h = by[`hutch-${c}`], b = by[`bwrap-${c}`];
  console.log(`${c}: hutch / bwrap = ${(h.median / b.median).toFixed(2)}x time, ${(cpu(h) / cpu(b)).toFixed(2)}x cpu; hutch above bwrap: ${((h.median - b.median) * 1000).toFixed(0)} ms`);
}
const n = by["hutch-node-true"], t = by["hutch-true"], vs = by["version-sh"], vn = by["version-node"];
console.log(`true: the TypeScript path / the C front = ${(n.median / t.median).toFixed(2)}x time, ${(cpu(n) / cpu(t)).toFixed(2)}x cpu`);
console.log(`hutch --version: the sh dispatcher adds ${((vs.median - vn.median) * 1000).toFixed(1)} ms (median), ${((cpu(vs) - cpu(vn)) * 1000).toFixed(1)} ms cpu`);
' "$work/result.json"
