# Shared by scripts/*: install what is missing, quietly when nothing is.
# Usage: source scripts/lib/deps.sh; need_apt pkg...; need_rust_target triple...

apt_updated=0
need_apt() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing apt packages: ${missing[*]}" >&2
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  if [ $apt_updated -eq 0 ]; then
    $sudo apt-get update -q >&2
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
}

# Packages of another architecture (Debian multiarch), e.g. `need_apt_arch arm64 libudev-dev`
# for the aarch64 cross build: adds the architecture to dpkg once.
need_apt_arch() {
  local arch=$1
  shift
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  if ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
    $sudo dpkg --add-architecture "$arch"
    apt_updated=0
  fi
  need_apt "${@/%/:$arch}"
}

need_rust_target() {
  for t in "$@"; do
    rustup target list --installed 2>/dev/null | grep -qx "$t" || rustup target add "$t" >&2
  done
}

# Packages the recorder tests, the demo and the benchmarks use.
RUNTIME_APT=(ffmpeg gstreamer1.0-rtsp gir1.2-gst-rtsp-server-1.0 python3-gi
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly gstreamer1.0-tools python3-aiosmtpd
  libudev-dev # libudev-dev: the supervisor's hot-plug monitor links libudev
  lcdproc tmux # the front panel's tests: a real LCDd (curses driver) inside tmux
  rauc openssl squashfs-tools) # the update agent's test: bundles made and verified by RAUC

# Packages the hw-tests use: QEMU (aarch64 system emulation), Debian's U-Boot for
# `-M virt` (/usr/lib/u-boot/qemu_arm64/u-boot.bin), mkimage for boot.scr, the
# tools that build a GPT + FAT boot disk without root, qemu-img (each VM's disks),
# squashfs-tools (a test build of a root slot) and curl (the appliance's API).
HW_TEST_APT=(qemu-system-arm qemu-utils u-boot-qemu u-boot-tools mtools dosfstools fdisk squashfs-tools curl)
