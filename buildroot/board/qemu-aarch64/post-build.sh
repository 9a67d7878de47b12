#!/usr/bin/env bash
# Post-build script of the qemu-aarch64 board: completes the root filesystem the way
# section 3 of scripts/build-image does for the Debian-based image (mount points, e2fsprogs
# names, /etc/modules, /etc/hotspare/ configuration from board/qemu-virt/, the version).
# The overlay (board/qemu-virt/overlay) is copied by Buildroot itself (BR2_ROOTFS_OVERLAY).
# scripts/check-buildroot compares the files installed here with build-image's.
# Usage (by Buildroot): post-build.sh TARGET_DIR
set -euo pipefail
TARGET_DIR=$1
REPO=$(cd "$(dirname "$0")/../../.." && pwd)
BOARD_DIR=$REPO/board/qemu-virt

# /data: the data partition (state), /boot: the FAT boot partition (mounted by rcS)
(cd "$TARGET_DIR" && mkdir -p bin sbin usr/bin usr/sbin lib etc dev proc sys run tmp var \
  mnt/root srv root data boot)
# rcS calls e2fsprogs by full path (/sbin/mke2fs, /sbin/e2fsck)
for b in mke2fs e2fsck; do
  [ -x "$TARGET_DIR/sbin/$b" ] || { echo "post-build: no /sbin/$b (e2fsprogs)" >&2; exit 1; }
done
ln -sfn mke2fs "$TARGET_DIR/sbin/mkfs.ext4"
ln -sfn e2fsck "$TARGET_DIR/sbin/fsck.ext4"
# The overlay's rcS starts everything (then init runs the supervisor): the S?? scripts that
# packages install (e.g. eudev's S10udev) are not run, as in the Debian image; remove them.
rm -f "$TARGET_DIR"/etc/init.d/S[0-9][0-9]*
grep -v "^#" "$BOARD_DIR/modules" > "$TARGET_DIR/etc/modules"
mkdir -p "$TARGET_DIR/etc/hotspare/board"
cp "$BOARD_DIR/bays.toml" "$BOARD_DIR/board.toml" "$BOARD_DIR/leds.toml" "$TARGET_DIR/etc/hotspare/board/"
# network, host name and time from the settings (rcS at boot, the console and the panel)
install -m 0755 "$BOARD_DIR/apply-network" "$TARGET_DIR/etc/hotspare/board/apply-network"
# apply-network runs OpenNTPD's ntpd (package openntpd); Buildroot's busybox ntpd is not used
[ -x "$TARGET_DIR/usr/sbin/ntpd" ] || { echo "post-build: no /usr/sbin/ntpd (openntpd)" >&2; exit 1; }
cp "$BOARD_DIR/supervisor.toml" "$BOARD_DIR/failover.toml" "$TARGET_DIR/etc/hotspare/"
chmod 0600 "$TARGET_DIR/etc/hotspare/failover.toml"
# The front panel's display server: Buildroot's lcdproc puts the drivers in /usr/lib/lcdproc,
# LCDd.conf's DriverPath is Debian's multiarch directory (as scripts/build-image installs them).
if [ -f "$BOARD_DIR/LCDd.conf" ]; then
  install -m 0644 "$BOARD_DIR/LCDd.conf" "$TARGET_DIR/etc/LCDd.conf"
  mkdir -p "$TARGET_DIR/usr/lib/aarch64-linux-gnu/lcdproc"
  for d in $(sed -n 's/^Driver=\([A-Za-z0-9_]*\)$/\1/p' "$BOARD_DIR/LCDd.conf"); do
    [ -f "$TARGET_DIR/usr/lib/lcdproc/$d.so" ] ||
      { echo "post-build: no LCDd driver $d (BR2_PACKAGE_LCDPROC_DRIVERS)" >&2; exit 1; }
    mv "$TARGET_DIR/usr/lib/lcdproc/$d.so" "$TARGET_DIR/usr/lib/aarch64-linux-gnu/lcdproc/"
  done
  mkdir -p "$TARGET_DIR/usr/libexec/coreutils"
  [ -f "$TARGET_DIR/usr/libexec/coreutils/libstdbuf.so" ] ||
    { echo "post-build: no libstdbuf.so (BR2_PACKAGE_COREUTILS)" >&2; exit 1; }
fi
git -C "$REPO" describe --always --dirty > "$TARGET_DIR/etc/hotspare/version" 2>/dev/null ||
  echo "unknown" > "$TARGET_DIR/etc/hotspare/version"
[ -x "$TARGET_DIR/usr/bin/hotspare" ] || { echo "post-build: no /usr/bin/hotspare" >&2; exit 1; }
