#!/usr/bin/env bash
# Post-image script of the qemu-aarch64 board: the initramfs (section 4 of
# scripts/build-image: busybox, the modules of board/qemu-virt/initrd-modules,
# board/qemu-virt/initrd-init as /init) and the GPT system disk disk.img (genimage.cfg: the
# layout of board/qemu-virt/disk-layout, checked by scripts/check-buildroot).
# Usage (by Buildroot): post-image.sh BINARIES_DIR; uses TARGET_DIR, HOST_DIR, BUILD_DIR.
set -euo pipefail
export BINARIES_DIR=${1:-$BINARIES_DIR} # genimage.sh reads it
HERE=$(cd "$(dirname "$0")" && pwd)
BOARD_DIR=$(cd "$HERE/../../../board/qemu-virt" && pwd)
: "${TARGET_DIR:?} ${HOST_DIR:?} ${BUILD_DIR:?}"
export LC_ALL=C

# --- the initramfs: mounts the squashfs root of the slot and switches to it ---
INITRD=$BUILD_DIR/hotspare-initrd
rm -rf "$INITRD"
mkdir -p "$INITRD"/{bin,dev,proc,sys,newroot,lib}
install -m 0755 "$TARGET_DIR/bin/busybox" "$INITRD/bin/busybox"
install -m 0755 "$BOARD_DIR/initrd-init" "$INITRD/init"
# busybox is linked against the target's glibc: its libraries and the program interpreter
copy_libs() {
  local changed=1 lib found d
  while [ $changed -eq 1 ]; do
    changed=0
    for lib in $(find "$INITRD" -type f -perm -u+x -print0 | xargs -0 readelf -d 2>/dev/null |
      sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort -u); do
      [ -e "$INITRD/lib/$lib" ] && continue
      found=""
      for d in lib usr/lib lib64; do
        [ -e "$TARGET_DIR/$d/$lib" ] && { found=$TARGET_DIR/$d/$lib; break; }
      done
      [ -n "$found" ] || { echo "post-image: $lib not in the target" >&2; exit 1; }
      cp -L "$found" "$INITRD/lib/$lib"
      chmod 0755 "$INITRD/lib/$lib"
      changed=1
    done
  done
  local interp
  interp=$(readelf -l "$INITRD/bin/busybox" | sed -n 's/.*interpreter: \(.*\)]/\1/p')
  mkdir -p "$INITRD/$(dirname "$interp")"
  [ -e "$INITRD/$interp" ] || cp -L "$TARGET_DIR/$interp" "$INITRD/$interp"
}
copy_libs
# the modules (modules.dep lists each module's dependencies, transitively)
kdir=$(find "$TARGET_DIR/lib/modules" -mindepth 1 -maxdepth 1 -type d | head -1)
[ -n "$kdir" ] || { echo "post-image: no kernel modules in the target" >&2; exit 1; }
kver=${kdir##*/}
mkdir -p "$INITRD/lib/modules/$kver"
while read -r m _; do
  case $m in ''|'#'*) continue ;; esac
  line=$(awk -v m="$m" '{ f = $1; sub(":$", "", f); n = f; sub(".*/", "", n)
    sub("\\.ko.*$", "", n); gsub("-", "_", n); if (n == m) { print; exit } }' "$kdir/modules.dep")
  if [ -z "$line" ]; then
    grep -q "/${m}\.ko" "$kdir/modules.builtin" 2>/dev/null ||
      { echo "post-image: module $m neither built nor built in" >&2; exit 1; }
    continue
  fi
  echo "$line" >> "$INITRD/lib/modules/$kver/modules.dep"
  for f in $line; do
    f=${f%:}
    mkdir -p "$INITRD/lib/modules/$kver/$(dirname "$f")"
    cp "$kdir/$f" "$INITRD/lib/modules/$kver/$f"
  done
done < "$BOARD_DIR/initrd-modules"
for f in modules.order modules.builtin modules.builtin.modinfo; do
  [ ! -f "$kdir/$f" ] || cp "$kdir/$f" "$INITRD/lib/modules/$kver/"
done
# the indexes, as build-image's depmod makes them (host-kmod's depmod, a dependency of linux);
# without depmod the modules.dep text is what busybox's modprobe reads
depmod=$(command -v "$HOST_DIR/sbin/depmod" || command -v depmod || true)
if [ -n "$depmod" ]; then
  "$depmod" -b "$INITRD" "$kver"
else
  sort -u -o "$INITRD/lib/modules/$kver/modules.dep" "$INITRD/lib/modules/$kver/modules.dep"
fi
# reproducible: sorted, owner root, fixed times (SOURCE_DATE_EPOCH with BR2_REPRODUCIBLE)
find "$INITRD" -exec touch -h -d "@${SOURCE_DATE_EPOCH:-0}" {} +
(cd "$INITRD" && find . -mindepth 1 | sort | cpio -o -H newc --reproducible -R 0:0 --quiet) |
  gzip -n -9 > "$BINARIES_DIR/initrd.cpio.gz"

# --- the system disk ---
# genimage.sh of Buildroot, with the board's configuration
support/scripts/genimage.sh -c "$HERE/genimage.cfg"
echo "post-image: $BINARIES_DIR/disk.img (boot, root-a, root-b, data); U-Boot: u-boot.bin"
