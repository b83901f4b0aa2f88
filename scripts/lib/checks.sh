# The frame of a shell test suite run as root by scripts/test.sh (sourced by test-containerd.sh and
# test-quickstart.sh): the root check, the test user, checks counted with the output of a failed
# one shown, and the closing line; the counts also go, as TAP's closing comments, to the file the
# suite got as its first argument, where scripts/tally.mjs reads them.
# Usage: checks_init NAME "$@" (sets repo, user); check NAME COMMAND...; checks_end (last: its
# status is the suite's, 0 when no check failed).
checks_init() { # suite name, the suite's arguments
  suite=$1
  tap=${2:-}
  repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  [ "$(id -u)" = 0 ] || { echo "$suite: must run as root" >&2; exit 1; }
  user=${HUTCH_TEST_USER:-hutchtest}
  passed=0 failed=0
}

check() { # name, command...: one check; its output is shown when it fails
  local name=$1 out; shift
  if out=$("$@" 2>&1); then passed=$((passed + 1)); echo "  ok   $name"
  else failed=$((failed + 1)); echo "  FAIL $name"; printf '%s\n' "$out" | sed 's/^/       /'; fi
}

checks_end() {
  echo "$suite: $passed passed, $failed failed"
  [ -z "$tap" ] || printf '# pass %d\n# fail %d\n' "$passed" "$failed" > "$tap"
  [ "$failed" = 0 ]
}
