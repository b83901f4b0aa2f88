#!/usr/bin/env bash
# The root quickstart, tested as a newcomer meets it (run as root by scripts/test.sh): it must leave
# localhost/quickstart in the test user's own store and print three commands that work as pasted,
# with no network at all (a network namespace without interfaces: a missing image would be pulled).
set -euo pipefail
. "$(dirname "$0")/lib/checks.sh"
checks_init test-quickstart "$@"
home=$(getent passwd "$user" | cut -d: -f6)
# Leave the machine as found: the user's store and the quickstart's copy go again if they are new.
fresh_store=; [ -e "$home/.local/share/hutch" ] || fresh_store=1
fresh_src=; [ -e /tmp/hutch-quickstart-src ] || fresh_src=1
fresh_runtime=; [ -e "/tmp/hutch-$(id -u "$user")" ] || fresh_runtime=1
work=$(mktemp -d /tmp/hutch-quickstart-test-XXXXXX)
cleanup() {
  rm -rf "$work"
  local code=$repo; [ -d /tmp/hutch-quickstart-src ] && code=/tmp/hutch-quickstart-src
  # The union daemon the quickstart's runs started lingers a while after them (docs/fuse.md):
  # ended here, by the pid it wrote, so that the machine is left as found.
  local pidfile pid
  for pidfile in "/tmp/hutch-$(id -u "$user")"/fsd/*.pid; do
    # Only the user's union daemon: a pid file left by a killed one may name a reused pid.
    pid=$(cat "$pidfile" 2>/dev/null) && [ "$pid" -gt 1 ] 2>/dev/null \
      && [ "$(stat -c %u "/proc/$pid" 2>/dev/null)" = "$(id -u "$user")" ] \
      && tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q fuseDaemon \
      && kill -TERM "$pid" 2>/dev/null || true
  done
  [ -z "$fresh_store" ] || runuser -u "$user" -- env -i HOME="$home" PATH=/usr/local/bin:/usr/bin:/bin node "$code/bin/hutch" system reset -f >/dev/null 2>&1 || true
  # The printed commands run without XDG_RUNTIME_DIR: hutch's runtime folder is /tmp/hutch-UID,
  # where even the reset above leaves its code cache.
  [ -z "$fresh_runtime" ] || rm -rf "/tmp/hutch-$(id -u "$user")"
  [ -z "$fresh_src" ] || rm -rf /tmp/hutch-quickstart-src
}
trap cleanup EXIT

bash "$repo/scripts/quickstart.sh" >"$work/out" 2>&1 || { cat "$work/out"; echo "test-quickstart: the quickstart failed" >&2; exit 1; }
# What it prints after "Next, try": the line that defines `hutch`, then the three commands; each
# command pasted after the definition into a script of its own, run in a namespace with no network.
mapfile -t next < <(sed -n '/^The image localhost\/quickstart is in .* own store\. Next, try (offline):$/,/^To remove/p' "$work/out" | sed -n 's/^  //p')
for i in 1 2 3; do printf '%s\n' "${next[0]:-}" "${next[$i]:-}" > "$work/cmd$i.sh"; done
offline() { unshare --net bash "$1"; }
export -f offline

echo "test-quickstart:"
check "it ran the container as $user" grep -qx 'hello from a rootless container' "$work/out"
check "it prints a definition of hutch and three commands" test "${#next[@]}" = 4 -a "${next[0]:0:8}" = 'hutch() '
check "${next[1]:-(missing)}: the image is in $user's own store" bash -c 'offline "$1" | grep -q "^localhost/quickstart  *latest "' - "$work/cmd1.sh"
check "${next[2]:-(missing)}: runs offline" bash -c 'offline "$1" | grep -qx "hello from [0-9a-f]\{12\}"' - "$work/cmd2.sh"
# Typed as a person would, once the shell is up; the line it prints ("in-a-42") is not in what was
# typed, so the terminal's echo of the input cannot pass for it. On failure the screen is shown.
# script(1) runs its command with $SHELL, which may be sh (as under CI): sh drops bash's exported
# functions, so the command is spelled out here rather than calling offline().
tty_check() {
  { sleep 1; printf 'echo in-a-$((6*7)); exit 7\n'; sleep 2; } | SHELL=/bin/bash script -qec "unshare --net bash '$1'" /dev/null >"$2" 2>&1 || true
  grep -q "in-a-42" "$2" || { cat -v "$2"; return 1; }
}
export -f tty_check
check "${next[3]:-(missing)}: a shell on a terminal" bash -c 'tty_check "$1" "$2"' - "$work/cmd3.sh" "$work/tty.out"
checks_end
