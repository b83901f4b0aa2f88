#!/usr/bin/env bash
# README's first command: run a container, offline. As root it prepares the host
# (scripts/prepare-host.sh: packages, the unprivileged user hutchtest with a subuid range), builds,
# makes a busybox root filesystem and runs a container as hutchtest. As a user it builds and runs.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
user=${HUTCH_TEST_USER:-hutchtest}

build() {
  cd "$repo"
  [ -d node_modules ] || npm ci --no-audit --no-fund --prefer-offline
  npm run -s build
}

make_rootfs() { # dir: a busybox-static root filesystem with root and an unprivileged user
  local dir=$1
  [ -x /bin/busybox ] || { echo "quickstart: /bin/busybox is missing: install busybox-static" >&2; exit 1; }
  rm -rf "$dir" && mkdir -p "$dir"/{bin,etc,proc,sys,dev,tmp,root,home/user}
  chmod 1777 "$dir/tmp"
  cp /bin/busybox "$dir/bin/busybox"
  for applet in $(/bin/busybox --list); do [ "$applet" = busybox ] || ln -sf busybox "$dir/bin/$applet"; done
  printf 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n' > "$dir/etc/passwd"
  printf 'root:x:0:\nuser:x:1000:\n' > "$dir/etc/group"
}

demo='echo "hello from a rootless container"; id; echo "uid_map:"; cat /proc/self/uid_map; echo "PID $$ on $(hostname)"'

if [ "$(id -u)" != 0 ]; then
  build
  rootfs=${XDG_CACHE_HOME:-$HOME/.cache}/hutch-quickstart/rootfs
  make_rootfs "$rootfs"
  tar -C "$rootfs" --numeric-owner --owner=0 --group=0 -cf "$rootfs.tar" .
  set -x
  node "$repo/bin/hutch" import -q "$rootfs.tar" localhost/quickstart >/dev/null
  exec node "$repo/bin/hutch" run localhost/quickstart sh -c "$demo"
fi

bash "$repo/scripts/prepare-host.sh"
build
# The user must reach the code: run from a copy it owns when the checkout is not readable to it.
src=$repo
if ! runuser -u "$user" -- test -r "$repo/dist/bundle/cli.cjs"; then
  src=/tmp/hutch-quickstart-src
  rm -rf "$src" && mkdir -p "$src"
  tar -C "$repo" --exclude=.git -cf - . | tar -C "$src" -xf -
  chown -R "$user:$user" "$src"
fi
work=/tmp/hutch-quickstart-$user
make_rootfs "$work/rootfs"
# An image from a root filesystem tarball (offline), then a container of it on the union filesystem.
tar -C "$work/rootfs" --numeric-owner --owner=0 --group=0 -cf "$work/rootfs.tar" .
chown -R "$user:$user" "$work"
as_user() { runuser -u "$user" -- env -i HOME="$(getent passwd "$user" | cut -d: -f6)" PATH=/usr/local/bin:/usr/bin:/bin "$@"; }
echo "+ runuser -u $user -- hutch import $work/rootfs.tar localhost/quickstart"
as_user node "$src/bin/hutch" import --root "$work/state" -q "$work/rootfs.tar" localhost/quickstart >/dev/null
echo "+ runuser -u $user -- hutch run localhost/quickstart sh -c '...'"
exec runuser -u "$user" -- env -i HOME="$(getent passwd "$user" | cut -d: -f6)" PATH=/usr/local/bin:/usr/bin:/bin \
  node "$src/bin/hutch" run --root "$work/state" localhost/quickstart sh -c "$demo"
