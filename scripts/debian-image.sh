#!/usr/bin/env bash
# Builds, as root and once per machine, a minimal Debian 12 root filesystem with debootstrap from
# the apt mirror this machine already uses (tests have no other internet), and caches it as a
# plain tarball that the unprivileged test user imports as a hutch image (test/helpers/debian-image.ts).
# The cache name carries a hash of this script, so a changed recipe never reuses an old tarball;
# the tarball is written under a temporary name and renamed, so a half-written one is never used.
# Prints the tarball's path. Usage: debian-image.sh [--print-path]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${HUTCH_TEST_CACHE:-/var/cache/hutch-test}
key=$(sha256sum "$here/debian-image.sh" | cut -c1-12)
out="$cache/debian-bookworm-minbase-$key.tar"
if [ "${1:-}" = --print-path ] || [ -f "$out" ]; then echo "$out"; exit 0; fi
[ "$(id -u)" = 0 ] || { echo "debian-image: must run as root (debootstrap)" >&2; exit 1; }

# The mirror apt uses for bookworm main (deb822 or one-line sources alike).
mirror=$(apt-cache policy | awk '$3 == "bookworm/main" && /Packages/ { print $2; exit }')
[ -n "$mirror" ] || { echo "debian-image: no bookworm main mirror in apt's sources" >&2; exit 1; }

mkdir -p "$cache"
chmod 0755 "$cache"
# One build at a time (test runs of several checkouts may start together); the winner's tarball
# serves the others. Under the lock, a killed build's leftovers can go.
exec 9> "$cache/.lock"
flock 9
if [ -f "$out" ]; then echo "$out"; exit 0; fi
rm -rf "$cache"/.build-*
work=$(mktemp -d "$cache/.build-XXXXXX")
trap 'rm -rf "$work"' EXIT
start=$(date +%s)
if ! debootstrap --variant=minbase bookworm "$work/root" "$mirror" > "$work/log" 2>&1; then
  tail -20 "$work/log" >&2
  echo "debian-image: debootstrap from $mirror failed" >&2
  exit 1
fi
# What a container runtime provides (/dev, /proc, /sys) and what an image does not ship.
rm -rf "$work/root/dev/"* "$work/root/proc/"* "$work/root/sys/"* "$work/root/var/cache/apt/archives/"*.deb \
  "$work/root/var/log/"*.log
find "$work/root/var/lib/apt/lists" -maxdepth 1 -type f -delete
mkdir -p "$work/root/var/lib/apt/lists/partial"
tar -C "$work/root" --numeric-owner --xattrs --xattrs-include='*' -cf "$work/image.tar" .
chmod 0644 "$work/image.tar"
mv "$work/image.tar" "$out"
# Older recipes' tarballs are stale now.
find "$cache" -maxdepth 1 -name 'debian-bookworm-minbase-*.tar' ! -path "$out" -delete
echo "debian-image: built $out in $(( $(date +%s) - start )) s from $mirror" >&2
echo "$out"
