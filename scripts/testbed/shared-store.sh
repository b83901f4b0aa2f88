#!/usr/bin/env bash
# As root, for store-shared.test.ts: DIR/store, a read-only image store as a site's administrator
# fills one (docs/hpc.md, "A read-only image store for everyone"): root-owned, readable by all;
# DIR/layout, the same image as an OCI layout (tag 1), for a user's pull of the same image; and
# DIR/noxattr, a ramfs (a real filesystem without user xattrs, as NFSv3) owned by USER.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
dir=$1 user=$2
rootfs=$(mktemp -d)
trap 'rm -rf "$rootfs"' EXIT
mkdir -p "$dir" "$rootfs/bin" "$rootfs/etc" "$rootfs/tmp" "$rootfs/home/user"
cp /bin/busybox "$rootfs/bin/busybox"
for cmd in sh cat chown stat id ls echo touch; do ln -s busybox "$rootfs/bin/$cmd"; done
printf 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n' > "$rootfs/etc/passwd"
printf 'root:x:0:\nuser:x:1000:\n' > "$rootfs/etc/group"
echo secret > "$rootfs/home/user/owned"
chown -R 0:0 "$rootfs" && chown -R 1000:1000 "$rootfs/home/user" && chmod 0600 "$rootfs/home/user/owned"
chmod 1777 "$rootfs/tmp"
tar -C "$rootfs" -cf "$dir/rootfs.tar" .
"$repo/bin/hutch" --root "$dir/store" import "$dir/rootfs.tar" localhost/shared:1 >/dev/null
"$repo/bin/hutch" --root "$dir/store" save --format oci-dir -o "$dir/layout" localhost/shared:1
rm -rf "$dir/store/run" "$dir/rootfs.tar"
# The administrator's last step: everyone may read the store (a layer keeps its owners in its index).
chmod -R a+rX "$dir"
mkdir -p "$dir/noxattr" && mount -t ramfs ramfs "$dir/noxattr" && chown "$user:" "$dir/noxattr" && chmod 0700 "$dir/noxattr"
