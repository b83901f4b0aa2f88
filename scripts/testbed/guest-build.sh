#!/usr/bin/env bash
# Builds the test guest's disk: Debian 12 (debootstrap from the apt mirror this machine uses) with
# systemd as PID 1, logind, a session D-Bus and what hutch needs inside (uidmap, fuse3, the host's
# node), as a 4 GiB sparse ext4 image. Called by guest.sh, as root, under its lock.
# Usage: guest-build.sh VARIANT IMAGE   VARIANT: uml | qemu (qemu adds a kernel and an initramfs)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
variant=$1 image=$2
# No udev: replaying every uevent took a minute of each boot under UML; the guest's few device
# permissions are set by hutch-guest-run instead.
packages=systemd,systemd-sysv,dbus,dbus-user-session,libpam-systemd,kmod,iproute2,procps,util-linux,uidmap,fuse3
[ "$variant" = qemu ] && packages+=,linux-image-cloud-amd64,initramfs-tools
mirror=$(apt-cache policy | awk '$3 == "bookworm/main" && /Packages/ { print $2; exit }')
[ -n "$mirror" ] || { echo "guest: no bookworm main mirror in apt's sources" >&2; exit 1; }

work=$(mktemp -d "$(dirname "$image")/.guest-build-XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root
start=$(date +%s)
if ! debootstrap --variant=minbase --include="$packages" bookworm "$root" "$mirror" > "$work/log" 2>&1; then
  tail -20 "$work/log" >&2
  echo "guest: debootstrap from $mirror failed" >&2
  exit 1
fi

echo hutch-guest > "$root/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 hutch-guest\n' > "$root/etc/hosts"
: > "$root/etc/fstab"   # the root comes from the kernel command line, read-write
# Quiet, quick boots: no timers, no network waits, no login prompt on the console.
chroot "$root" systemctl disable apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer \
  e2scrub_all.timer fstrim.timer e2scrub_reap.service >/dev/null 2>&1 || true
chroot "$root" systemctl mask systemd-networkd-wait-online.service getty@tty1.service \
  serial-getty@ttyS0.service console-getty.service >/dev/null 2>&1 || true
install -D -m 0644 "$here/guest-files/delegate.conf" "$root/etc/systemd/system/user@.service.d/delegate.conf"
install -D -m 0755 "$here/guest-files/hutch-guest-run" "$root/usr/local/sbin/hutch-guest-run"
install -D -m 0644 "$here/guest-files/hutch-guest-run.service" "$root/etc/systemd/system/hutch-guest-run.service"
chroot "$root" systemctl enable hutch-guest-run.service >/dev/null 2>&1
# UML's kernel modules, so that modprobe works under it; the host's node (same Debian 12 ABI).
[ "$variant" = uml ] && [ -d /usr/lib/uml/modules ] && mkdir -p "$root/lib/modules" && cp -a /usr/lib/uml/modules/. "$root/lib/modules/"
install -m 0755 "$(readlink -f "$(command -v node)")" "$root/usr/local/bin/node"
rm -rf "$root/var/cache/apt/archives/"*.deb "$root/var/lib/apt/lists/"*_Packages

truncate -s 4G "$work/disk.img"
mkfs.ext4 -q -F -L hutch-guest -d "$root" "$work/disk.img"
if [ "$variant" = qemu ]; then   # qemu boots the guest's own kernel, kept next to the image
  cp "$(ls "$root"/boot/vmlinuz-* | tail -1)" "${image%.img}.vmlinuz"
  cp "$(ls "$root"/boot/initrd.img-* | tail -1)" "${image%.img}.initrd"
fi
mv "$work/disk.img" "$image"
echo "guest: built $image ($(du -h "$image" | cut -f1) used) in $(( $(date +%s) - start )) s from $mirror" >&2
