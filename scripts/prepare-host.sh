#!/usr/bin/env bash
# Prepares this machine as a distribution would for a rootless user (run as root):
# the packages hutch and its tests use, /dev/fuse and /dev/net/tun mode 0666,
# and an unprivileged test user with (and one without) a /etc/subuid and /etc/subgid range, and
# one with two overlapping ranges (useradd's automatic one plus an admin's --add-subuids).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" = 0 ] || { echo "prepare-host: must run as root" >&2; exit 1; }

missing=()
while read -r pkg; do
  case "$pkg" in ''|'#'*) continue ;; esac
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done < "$here/host-packages.txt"
if [ ${#missing[@]} -gt 0 ]; then
  echo "prepare-host: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || true
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# A distribution ships these world-usable; this machine has them 0600.
for dev in /dev/fuse /dev/net/tun; do
  [ -e "$dev" ] && chmod 0666 "$dev"
done

next_free_id() { # first id past every range in the file
  awk -F: 'BEGIN{m=100000} {e=$2+$3; if (e>m) m=e} END{print m}' "$1"
}
add_user() { # name, with_range (yes|no)
  local name=$1 with_range=$2
  id -u "$name" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$name"
  for f in /etc/subuid /etc/subgid; do
    touch "$f"
    if [ "$with_range" = no ]; then
      sed -i "/^$name:/d" "$f"
    elif ! grep -q "^$name:[0-9]*:[0-9]*$" "$f"; then
      echo "$name:$(next_free_id "$f"):65536" >> "$f"
    fi
  done
}
add_user "${HUTCH_TEST_USER:-hutchtest}" yes
add_user "${HUTCH_TEST_USER_NOSUBID:-hutchnosub}" no

# Two overlapping ranges, as useradd's automatic range and an admin's `usermod --add-subuids`
# give: hutch must merge them (run.overlap.test.ts).
add_overlapping_user() { # name
  local name=$1
  id -u "$name" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$name"
  for f in /etc/subuid /etc/subgid; do
    [ "$(grep -c "^$name:[0-9]*:[0-9]*$" "$f")" = 2 ] && continue
    sed -i "/^$name:/d" "$f"
    local start; start=$(next_free_id "$f")
    printf '%s:%s:65536\n%s:%s:65536\n' "$name" "$start" "$name" "$((start + 3392))" >> "$f"
  done
}
add_overlapping_user "${HUTCH_TEST_USER_OVERLAP:-hutchoverlap}"

# A root filesystem tree the test users may read but not write, owned by root (an administrator's,
# the everyday case on a cluster), lacking the files and directories hutch mounts over
# (run-rootfs-tree.test.ts runs it and checks it is left byte for byte as it was).
readonly_tree=${HUTCH_TEST_READONLY_ROOTFS:-/var/cache/hutch-test/readonly-rootfs-v1}
if [ ! -x "$readonly_tree/bin/busybox" ]; then
  rm -rf "$readonly_tree.new"
  mkdir -p "$readonly_tree.new/bin" "$readonly_tree.new/etc" "$readonly_tree.new/tmp"
  cp /bin/busybox "$readonly_tree.new/bin/busybox"
  for applet in $(/bin/busybox --list); do [ "$applet" = busybox ] || ln -s busybox "$readonly_tree.new/bin/$applet"; done
  printf 'root:x:0:0:root:/root:/bin/sh\n' > "$readonly_tree.new/etc/passwd"
  printf 'root:x:0:\n' > "$readonly_tree.new/etc/group"
  chown -R root:root "$readonly_tree.new"
  chmod -R u=rwX,go=rX "$readonly_tree.new"
  chmod 1777 "$readonly_tree.new/tmp"
  mv "$readonly_tree.new" "$readonly_tree"
fi
