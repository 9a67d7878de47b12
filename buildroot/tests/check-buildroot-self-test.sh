#!/usr/bin/env bash
# The self-test of scripts/check-buildroot (its --self-test): plants one disagreement at a
# time between the Buildroot tree and the Debian-based image in a fresh copy of the tree (a
# partition size or type, swapped slots, a boot file, a kernel option, an unknown module, a
# configuration file or its mode, a mount point, a copied overlay or rcS, an inittab entry,
# a package, a U-Boot option or command, a partition offset only genimage rejects) and fails unless the check fails
# naming it. The copy unchanged must pass.
# Usage: buildroot/tests/check-buildroot-self-test.sh CHECK_SCRIPT REPO
# shellcheck disable=SC2016 # the planted edits write literal shell text
set -euo pipefail
CHECK=$(realpath "$1")
ROOT=$(cd "$2" && pwd)

self_test() {
  # the planted copies are checked without genimage (one plant needs it and says so)
  export CHECK_BUILDROOT_NO_GENIMAGE=1
  local tmp missed=0 planted=0
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  fresh() {
    rm -rf "$tmp/r" && mkdir -p "$tmp/r/scripts" "$tmp/r/board" "$tmp/r/firmware/hotspare"
    cp -a "$ROOT/buildroot" "$tmp/r/" && cp -a "$ROOT/board/qemu-virt" "$tmp/r/board/"
    cp "$ROOT/scripts/build-image" "$tmp/r/scripts/"
    cp "$ROOT/firmware/hotspare/Cargo.toml" "$tmp/r/firmware/hotspare/"
  }
  # plant DESCRIPTION EXPECTED-TEXT COMMAND...: break a fresh copy, expect a failure saying it
  plant() {
    local what=$1 expect=$2 out
    shift 2
    fresh
    (cd "$tmp/r" && "$@")
    planted=$((planted + 1))
    if out=$("$CHECK" --root "$tmp/r" 2>&1); then
      echo "check-buildroot self-test: not caught: $what" >&2; missed=1
    elif ! grep -qF -- "$expect" <<<"$out"; then
      echo "check-buildroot self-test: $what: failed without naming '$expect':" >&2
      echo "$out" >&2; missed=1
    fi
  }
  fresh
  "$CHECK" --root "$tmp/r" >/dev/null 2>&1 || { echo "check-buildroot self-test: the copy fails unchanged" >&2; "$CHECK" --root "$tmp/r" >&2; return 1; }
  local G=buildroot/board/qemu-aarch64
  plant "root-b 1 MiB smaller in genimage.cfg" "partition root-b: disk-layout 256 MiB" \
    sed -i '/partition root-b/,/}/s/size = 256M/size = 255M/' "$G/genimage.cfg"
  plant "data partition typed EFI in disk-layout" "partition data: type U" \
    sed -i 's/^data     256  L data/data     256  U data/' board/qemu-virt/disk-layout
  plant "root-a and root-b swapped in genimage.cfg" "partition 2: disk-layout has root-a" \
    sed -i -e 's/partition root-a/partition root-X/' -e 's/partition root-b/partition root-a/' \
    -e 's/partition root-X/partition root-b/' "$G/genimage.cfg"
  plant "B/initrd missing on the boot partition" "partition boot: files" \
    sed -i '/"B\/initrd"/d' "$G/genimage.cfg"
  if command -v genimage >/dev/null && command -v sfdisk >/dev/null; then
    CHECK_BUILDROOT_NO_GENIMAGE="" plant "root-b moved 1 MiB on (only genimage sees it)" \
      "genimage fails on genimage.cfg: ERROR: hdimage(disk.img): partition [GPT backup]" \
      sed -i '/partition root-b/a\\t\toffset = 386M' "$G/genimage.cfg"
  fi
  plant "CONFIG_MD_RAID1 dropped from the kernel fragment" "CONFIG_MD_RAID1 is not y or m (module raid1" \
    sed -i '/^CONFIG_MD_RAID1=/d' "$G/linux.fragment"
  plant "FAT_WRITE dropped from the U-Boot fragment" "CONFIG_FAT_WRITE is not y (boot.cmd runs 'fatwrite')" \
    sed -i '/^CONFIG_FAT_WRITE=/d' "$G/uboot.fragment"
  plant "boot.cmd runs a command unknown to the check" "boot.cmd runs 'gpt'" \
    sed -i '$a gpt verify ${bs_dev}' board/qemu-virt/boot.cmd
  plant "a module with no known CONFIG_" "module frobnicator" \
    sed -i '$a frobnicator' board/qemu-virt/modules
  plant "failover.toml not installed by post-build.sh" "/etc/hotspare/failover.toml <- board:failover.toml" \
    sed -i 's| "$BOARD_DIR/failover.toml"||' "$G/post-build.sh"
  plant "a file only build-image installs (install -m)" "(mode /etc/hotspare/board/leds.toml 0640), post-build.sh does not" \
    sed -i 's|^cp "$BOARD_DIR/supervisor.toml" .*|&\ninstall -m 0640 "$BOARD_DIR/leds.toml" "$ROOTFS/etc/hotspare/board/leds.toml"|' \
    scripts/build-image
  plant "failover.toml readable by all" "mode /etc/hotspare/failover.toml 0600" \
    sed -i '/chmod 0600/d' "$G/post-build.sh"
  plant "/data not created" "dir /data" sed -i 's/ data boot)/ boot)/' "$G/post-build.sh"
  plant "the overlay copied into buildroot/" "BR2_ROOTFS_OVERLAY is" \
    sed -i 's|\.\./board/qemu-virt/overlay|board/qemu-aarch64/overlay|' "$G/../../configs/hotspare_qemu_aarch64_defconfig"
  plant "a copy of rcS in buildroot/" "is a copy of board/qemu-virt/overlay/etc/init.d/rcS" \
    cp board/qemu-virt/overlay/etc/init.d/rcS "$G/rcS"
  plant "inittab runs a script the overlay lacks" "runs /etc/init.d/missing" \
    sed -i '$a ::once:/etc/init.d/missing' board/qemu-virt/overlay/etc/inittab
  plant "mdadm left out of the defconfig" "BR2_PACKAGE_MDADM is not set" \
    sed -i '/^BR2_PACKAGE_MDADM=y/d' buildroot/configs/hotspare_qemu_aarch64_defconfig
  plant "a Debian package without Buildroot equivalent" "Debian package smartmontools" \
    sed -i 's/^PKGS=("$KPKG" busybox-static/PKGS=("$KPKG" smartmontools busybox-static/' scripts/build-image
  [ "$missed" -eq 0 ] || return 1
  echo "check-buildroot self-test: $planted planted disagreements are reported"
}

self_test
