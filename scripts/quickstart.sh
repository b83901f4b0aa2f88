#!/usr/bin/env bash
# README's first command: run a container, offline. As root it prepares the host
# (scripts/prepare-host.sh: packages, the unprivileged user hutchtest with a subuid range), builds,
# makes a busybox root filesystem, imports it as the image localhost/quickstart into hutchtest's
# own store and runs a container of it as hutchtest. As a user it does the same in the user's own
# store. Either way the image stays, and the next three commands to try are printed.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
user=${HUTCH_TEST_USER:-hutchtest}

need_node() { # Node.js 20+ and npm, or say what is needed and how to get it (exit 125, as hutch does)
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "quickstart: cannot build hutch: node or npm is not installed: hutch needs Node.js 20 or newer, with npm" >&2
    echo "hint: install Node.js 20+ (Debian 12's nodejs is 18): NodeSource's packages (deb.nodesource.com) or nvm; see README.md, \"Prerequisites\"" >&2
    exit 125
  fi
  # The same check and message as bin/hutch's (bin/start-bundle.js, written to parse on any Node).
  node -e 'var m = require(process.argv[1]).nodeTooOld(process.versions); if (m) { process.stderr.write(m); process.exit(125); }' \
    "$repo/bin/start-bundle.js" || exit 125
}

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

make_image_tar() { # work dir -> work/rootfs.tar (the rootfs folder is removed: the image has it)
  make_rootfs "$1/rootfs"
  tar -C "$1/rootfs" --numeric-owner --owner=0 --group=0 -cf "$1/rootfs.tar" .
  rm -rf "$1/rootfs"
}

next_steps() { # who, the line that defines `hutch` (or empty when it is on PATH)
  echo
  echo "The image localhost/quickstart is in $1's own store. Next, try (offline):"
  [ -z "$2" ] || echo "  $2"
  echo "  hutch images"
  echo "  hutch run --rm localhost/quickstart sh -c 'echo hello from \$(hostname); id'"
  echo "  hutch run --rm -it localhost/quickstart sh"
  echo "To remove everything hutch keeps (containers, images, runtime files): hutch system reset"
}

demo='echo "hello from a rootless container"; id; echo "uid_map:"; cat /proc/self/uid_map; echo "PID $$ on $(hostname)"'

need_node
if [ "$(id -u)" != 0 ]; then
  build
  work=$(mktemp -d "${TMPDIR:-/tmp}/hutch-quickstart-XXXXXX")
  trap 'rm -rf "$work"' EXIT
  make_image_tar "$work"
  echo "+ hutch import $work/rootfs.tar localhost/quickstart"
  node "$repo/bin/hutch" import -q "$work/rootfs.tar" localhost/quickstart >/dev/null
  echo "+ hutch run --rm localhost/quickstart sh -c '...'"
  node "$repo/bin/hutch" run --rm localhost/quickstart sh -c "$demo"
  define=
  [ "$(readlink -f "$(command -v hutch || true)")" = "$(readlink -f "$repo/bin/hutch")" ] || define="hutch() { $repo/bin/hutch \"\$@\"; }"
  next_steps "$(id -un)" "$define"
  exit 0
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
home=$(getent passwd "$user" | cut -d: -f6)
# The user's own environment, not root's (root's XDG_RUNTIME_DIR would name root's folder).
as_user="runuser -u $user -- env -i HOME=$home PATH=/usr/local/bin:/usr/bin:/bin"
work=$(mktemp -d /tmp/hutch-quickstart-XXXXXX)
trap 'rm -rf "$work"' EXIT
make_image_tar "$work"
chown -R "$user:$user" "$work"
# An image from a root filesystem tarball (offline) in the user's default store, then a container of it.
echo "+ $as_user hutch import $work/rootfs.tar localhost/quickstart"
$as_user node "$src/bin/hutch" import -q "$work/rootfs.tar" localhost/quickstart >/dev/null
echo "+ $as_user hutch run --rm localhost/quickstart sh -c '...'"
$as_user node "$src/bin/hutch" run --rm localhost/quickstart sh -c "$demo"
next_steps "$user" "hutch() { $as_user TERM=\"\$TERM\" $src/bin/hutch \"\$@\"; }"
