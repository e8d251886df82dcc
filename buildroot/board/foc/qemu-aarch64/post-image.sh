#!/bin/sh
# Post-image script of foc_qemu_aarch64_defconfig: checks that the boot
# firmware is there and puts start-qemu.sh next to the images.
# Usage (Buildroot): post-image.sh BINARIES_DIR [ignored arguments]
set -eu

BINARIES_DIR="$1"
BOARD_DIR="$(dirname "$0")"

for f in qemu_fw.bios Image rootfs.ext4; do
	if [ ! -f "$BINARIES_DIR/$f" ]; then
		echo "post-image: $BINARIES_DIR/$f is missing (TF-A PLAT=qemu builds qemu_fw.bios: BL1 + FIP with OP-TEE and U-Boot)" >&2
		exit 1
	fi
done
install -m 0755 "$BOARD_DIR/start-qemu.sh" "$BINARIES_DIR/start-qemu.sh"
