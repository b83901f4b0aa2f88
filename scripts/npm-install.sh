#!/bin/sh
# npm's install step (package.json "install"), for `npm install -g` of an npm pack tarball or of a
# checkout, and for `npm ci` in a checkout: builds the helpers native/hutch-nsexec and hutch-forwarder (and hutch-monitor) (a tarball
# carries its source only: it is a binary of the machine it runs on), and in a checkout, which
# npm links rather than packs, the bundle in dist/ when it is missing (a tarball carries it).
# make also builds native/hutch-sandbox, `hutch sandbox`'s C fast path, and native/hutch-run-front,
# `hutch run --network none|host --rootfs`'s; neither is required: without them bin/hutch runs
# those commands through Node.js (docs/sandbox.md, docs/startup.md). Nor is
# native/hutch-fs-pages.so: without it the union daemon warns and keeps its start-up pages.
set -e
cd "$(dirname "$0")/.."
fail() {
  echo "hutch: cannot install: $1" >&2
  echo "hint: $2" >&2
  exit 1
}
if ! command -v make >/dev/null 2>&1 || ! command -v "${CC:-cc}" >/dev/null 2>&1; then
  [ -x native/hutch-nsexec ] && [ -x native/hutch-forwarder ] &&
    [ -x native/hutch-monitor ] || fail "cannot build native/hutch-nsexec and hutch-forwarder: make or a C compiler (${CC:-cc}) is missing" \
    "install them (Debian: apt-get install make gcc libc6-dev), then install hutch again"
else
  make -s -C native
fi
# native/hutch-runtime-front (bin/hutch-runtime's C front, built above with the helpers) is optional:
# without it bin/hutch-runtime runs every command through Node.
[ -f dist/bundle/cli.cjs ] && exit 0
[ -x node_modules/.bin/tsc ] || fail "$PWD is a checkout without its npm dependencies, so dist/ cannot be built" \
  "run \`npm ci\` in $PWD first (it builds dist/), then install hutch again"
npm run -s build
