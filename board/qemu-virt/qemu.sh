# The emulated machine of this board (sourced by scripts/run-image).
QEMU_MACHINE=(-M virt -cpu cortex-a53 -m 512)
# root= the squashfs on the first virtio disk; panic=-1: a panic exits QEMU (-no-reboot).
KERNEL_CMDLINE="console=ttyAMA0 root=/dev/vda panic=-1 quiet"
