# The emulated machine of this board (sourced by scripts/run-image).
# acpi=off: with firmware in pflash QEMU would otherwise put its power button on ACPI (GED) and
# leave the PL061 GPIO controller out of the DT, which the front panel's LEDs and keys use
# (boot.cmd); the kernel boots with the DT anyway.
QEMU_MACHINE=(-M virt,acpi=off -cpu cortex-a53 -m 512)
# --direct boots (-kernel): root= the squashfs on the first virtio disk; panic=-1: a panic
# exits QEMU (-no-reboot). Booted through U-Boot, the command line comes from boot.cmd.
KERNEL_CMDLINE="console=ttyAMA0 root=/dev/vda panic=-1 quiet"
# U-Boot of the board (scripts/run-image without --direct), from Debian's u-boot-qemu.
UBOOT_BIN=/usr/lib/u-boot/qemu_arm64/u-boot.bin
# The maintenance port (hvc0 in the guest: inittab's askfirst shell; module virtio_console):
# a virtio console on a unix socket ($MAINT_SOCKET, set by scripts/run-image before sourcing
# this), for developers and the hw-tests (their shell). ttyAMA0, QEMU's stdio, is the serial
# port with the console's menu. A real box has no such port.
QEMU_MAINT_PORT=(-device virtio-serial-pci,id=maint0
  -chardev socket,id=maint,path="$MAINT_SOCKET",server=on,wait=off
  -device virtconsole,bus=maint0.0,chardev=maint,name=hotspare.maint)

# The board's own devices (scripts/run-image adds them): a virtio keyboard, the front panel's
# six keys (the PL061 has lines for Enter and Escape only); the hw-tests press keys on it with
# QMP input-send-event.
# On PCI: the virtio-mmio variant (virtio-keyboard-device) did not show up in the guest when
# booted through U-Boot (virtio_mmio loaded, no device), the PCI one does.
QEMU_BOARD_DEVICES=(-device virtio-keyboard-pci)
