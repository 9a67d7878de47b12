#!/usr/bin/env bash
# Runs the board's post-build.sh and post-image.sh the way Buildroot does (overlay copied
# over the target, then post-build.sh TARGET_DIR; then post-image.sh BINARIES_DIR from a
# top directory with support/scripts/genimage.sh), on a stand-in target made of the Debian
# parts that scripts/build-image downloaded (busybox, e2fsprogs, the kernel's modules, its
# kernel, root and boot.scr), and compares the result with what build-image made from the
# same parts: the initramfs's contents, the configuration installed in the root, the
# system disk's GPT and the boot partition's files. Buildroot itself is not run.
# With --boot, the disk made here then boots in QEMU through Debian's U-Boot (pflash, as
# scripts/run-image) until the supervisor marks slot A good (TIMEOUT s, default 240), with
# boot.cmd's front panel (gpio-leds, gpio-keys) in the DT.
# Usage: buildroot/tests/post-scripts.sh [--boot] [IMAGE_CACHE]  (default: <repo>/.cache/image)
# Exits 0 when they agree, 1 when not, 77 (skipped) without a scripts/build-image output.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
BOOT=""
[ "${1:-}" != --boot ] || { BOOT=1; shift; }
CACHE=${1:-$REPO/.cache/image}
BOARD_DIR=$REPO/board/qemu-virt
BR_BOARD=$REPO/buildroot/board/qemu-aarch64
OUT=$CACHE/out/qemu-virt
DEB_ROOT=$CACHE/work/qemu-virt/rootfs
X=$CACHE/extract
for f in "$OUT/disk.img" "$OUT/initrd.cpio.gz" "$OUT/rootfs.squashfs" "$OUT/boot.scr" \
  "$OUT/vmlinuz" "$OUT/kernel-version" "$DEB_ROOT/etc/hotspare" "$X/busybox-static/bin/busybox" \
  "$X/lcdproc/usr/sbin/LCDd" "$X/coreutils/usr/bin/stdbuf"; do
  [ -e "$f" ] || { echo "post-scripts: skipped: no $f (run scripts/build-image first)"; exit 77; }
done
for t in genimage sfdisk mdir cpio; do
  command -v "$t" >/dev/null || { echo "post-scripts: skipped: $t not installed"; exit 77; }
done
kver=$(cat "$OUT/kernel-version")
KDIR=$X/linux-image-$kver/lib/modules/$kver
[ -d "$KDIR" ] || { echo "post-scripts: skipped: no $KDIR"; exit 77; }

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
mkdir -p "$T"/{target/bin,target/sbin,target/usr/bin,host,build,images,top/support/scripts}
# --- the stand-in target: what Buildroot's packages would have installed ---
cp "$X/busybox-static/bin/busybox" "$T/target/bin/"
cp "$X/e2fsprogs/sbin/mke2fs" "$X/e2fsprogs/sbin/e2fsck" "$T/target/sbin/"
# lcdproc (LCDd; Buildroot installs its drivers in /usr/lib/lcdproc) and coreutils (stdbuf)
mkdir -p "$T/target/usr/sbin" "$T/target/usr/lib/lcdproc" "$T/target/usr/libexec/coreutils"
cp "$X/lcdproc/usr/sbin/LCDd" "$T/target/usr/sbin/"
cp "$X"/lcdproc/usr/lib/aarch64-linux-gnu/lcdproc/*.so "$T/target/usr/lib/lcdproc/"
cp "$X/coreutils/usr/bin/stdbuf" "$T/target/usr/bin/"
cp "$X/coreutils/usr/libexec/coreutils/libstdbuf.so" "$T/target/usr/libexec/coreutils/"
printf '#!/bin/sh\n' > "$T/target/usr/bin/hotspare" && chmod 0755 "$T/target/usr/bin/hotspare"
mkdir -p "$T/target/lib/modules/$kver" "$T/target/etc/init.d"
cp "$KDIR"/modules.* "$T/target/lib/modules/$kver/"
ln -s "$KDIR/kernel" "$T/target/lib/modules/$kver/kernel"
touch "$T/target/etc/init.d/S10udev" # a package's init script (post-build removes it)
# --- Buildroot's target-finalize: the overlay, then the post-build script ---
cp -a "$BOARD_DIR/overlay/." "$T/target/"
"$BR_BOARD/post-build.sh" "$T/target"
# --- Buildroot's images and post-image (cwd: Buildroot's top directory) ---
cp "$OUT/vmlinuz" "$T/images/Image"
cp "$OUT/rootfs.squashfs" "$OUT/boot.scr" "$T/images/"
# what Buildroot's support/scripts/genimage.sh runs
cat > "$T/top/support/scripts/genimage.sh" <<'EOF'
#!/usr/bin/env bash
set -e
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
genimage --rootpath "$root" --tmppath "$BUILD_DIR/genimage.tmp" --inputpath "$BINARIES_DIR" \
  --outputpath "$BINARIES_DIR" --config "$2"
EOF
chmod +x "$T/top/support/scripts/genimage.sh"
(cd "$T/top" && TARGET_DIR=$T/target HOST_DIR=$T/host BUILD_DIR=$T/build BR2_CONFIG=/dev/null \
  SOURCE_DATE_EPOCH=0 "$BR_BOARD/post-image.sh" "$T/images" > "$T/post-image.log" 2>&1) ||
  { cat "$T/post-image.log" >&2; echo "post-scripts: post-image.sh failed" >&2; exit 1; }

fail=0
differ() { echo "post-scripts: $*" >&2; fail=1; }
# the initramfs: the same files with the same contents and modes
mkdir -p "$T/i-br" "$T/i-deb"
(cd "$T/i-br" && gzip -dc "$T/images/initrd.cpio.gz" | cpio -id --quiet)
(cd "$T/i-deb" && gzip -dc "$OUT/initrd.cpio.gz" | cpio -id --quiet)
diff -r "$T/i-br" "$T/i-deb" > "$T/d" || differ "initramfs differs: $(head -5 "$T/d")"
modes() { find "$1" -printf '%P %m %y\n' | sort; }
[ "$(modes "$T/i-br")" = "$(modes "$T/i-deb")" ] || differ "initramfs: modes or types differ"
# the root: the overlay, the installed configuration and mount points (the version string is
# git describe at each build's time: present in both, not compared)
for p in etc/hotspare etc/modules etc/inittab etc/init.d/rcS etc/init.d/supervisor \
  etc/init.d/rcK usr/share/udhcpc data boot srv mnt/root \
  sbin/mkfs.ext4 sbin/fsck.ext4; do
  [ -e "$T/target/$p" ] || [ -L "$T/target/$p" ] || { differ "root: /$p missing"; continue; }
  diff -r --exclude=version "$T/target/$p" "$DEB_ROOT/$p" > "$T/d" 2>&1 || differ "root: /$p differs: $(head -3 "$T/d")"
  [ "$(modes "$T/target/$p")" = "$(modes "$DEB_ROOT/$p")" ] || differ "root: /$p modes differ"
done
[ -s "$T/target/etc/hotspare/version" ] || differ "root: /etc/hotspare/version missing"
[ -z "$(find "$T/target/etc/init.d" -name 'S[0-9]*')" ] || differ "root: package init scripts left"
# the system disk: the GPT (names, starts, sizes, types) and the boot partition's files
gpt() { sfdisk -d "$1" | sed -n 's/^[^:]*: \(start=.*\), uuid=[^,]*, \(name=.*\)/\1 \2/p'; }
[ "$(gpt "$T/images/disk.img")" = "$(gpt "$OUT/disk.img")" ] ||
  differ "GPT differs: $(diff <(gpt "$T/images/disk.img") <(gpt "$OUT/disk.img") | head -4)"
bootfiles() { MTOOLS_SKIP_CHECK=1 mdir -/ -b -i "$1@@1M" :: | sed 's|^::/||' | sort; }
[ "$(bootfiles "$T/images/disk.img")" = "$(bootfiles "$OUT/disk.img")" ] ||
  differ "boot partition files differ: $(bootfiles "$T/images/disk.img" | paste -sd' ') vs $(bootfiles "$OUT/disk.img" | paste -sd' ')"
[ "$fail" -eq 0 ] || exit 1
echo "post-scripts: post-build.sh and post-image.sh give build-image's initramfs ($(stat -c %s "$T/images/initrd.cpio.gz") bytes," \
  "same contents), configuration, GPT and boot partition files"
[ -n "$BOOT" ] || exit 0

# --- boot the disk made here (U-Boot from pflash, two blank bay disks) ---
# shellcheck disable=SC1091
source "$BOARD_DIR/qemu.sh" # QEMU_MACHINE, UBOOT_BIN
[ -s "$UBOOT_BIN" ] || { echo "post-scripts: boot skipped: no $UBOOT_BIN"; exit 77; }
cp "$UBOOT_BIN" "$T/flash0.img" && truncate -s 64M "$T/flash0.img" "$T/flash1.img"
for d in bay1 bay2; do qemu-img create -q -f qcow2 "$T/$d.qcow2" 2G; done
start=$(date +%s)
timeout "${TIMEOUT:-240}" qemu-system-aarch64 "${QEMU_MACHINE[@]}" -nographic \
  -drive if=pflash,format=raw,file="$T/flash0.img",readonly=on \
  -drive if=pflash,format=raw,file="$T/flash1.img" \
  -drive if=none,id=system,file="$T/images/disk.img",format=raw -device virtio-blk-pci,drive=system \
  -device ahci,id=ahci \
  -drive if=none,id=bay1,file="$T/bay1.qcow2",format=qcow2 -device ide-hd,drive=bay1,bus=ahci.0 \
  -drive if=none,id=bay2,file="$T/bay2.qcow2",format=qcow2 -device ide-hd,drive=bay2,bus=ahci.1 \
  -device i6300esb -netdev user,id=n0 -device virtio-net-pci,netdev=n0,romfile= \
  < /dev/null > "$T/serial.log" 2>&1 &
qemu=$!
READY="supervisor: ready: slot A marked good"
while kill -0 "$qemu" 2>/dev/null && ! grep -aq "$READY" "$T/serial.log"; do
  sleep 1
done
kill "$qemu" 2>/dev/null || true
wait "$qemu" 2>/dev/null || true
grep -a -E "hotspare-boot: (slot|front panel)|initrd: root|rcS: done|supervisor: (starting|ready)" "$T/serial.log" |
  sed 's/^/post-scripts: serial: /'
grep -aq "$READY" "$T/serial.log" ||
  { echo "post-scripts: the disk did not boot to '$READY' in ${TIMEOUT:-240} s" >&2; exit 1; }
grep -aq "hotspare-boot: front panel: 5 LEDs" "$T/serial.log" ||
  { echo "post-scripts: boot.cmd did not add the front panel to the DT" >&2; exit 1; }
echo "post-scripts: the disk boots through U-Boot to slot A marked good in $(($(date +%s) - start)) s (wall)"
