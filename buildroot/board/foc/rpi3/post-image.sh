#!/bin/sh
# Post-image script of foc_rpi3_defconfig: compiles FOC's device tree overlay
# and checks that TF-A left armstub8.bin; support/scripts/genimage.sh, the
# next post-image script, then writes sdcard.img from genimage.cfg.
# Usage (Buildroot): post-image.sh BINARIES_DIR [ignored arguments]
set -eu

BINARIES_DIR="$1"
BOARD_DIR="$(dirname "$0")"
DTC="${HOST_DIR:+$HOST_DIR/bin/}dtc"

if [ ! -f "$BINARIES_DIR/armstub8.bin" ]; then
	echo "post-image: $BINARIES_DIR/armstub8.bin is missing (TF-A PLAT=rpi3 writes it: BL1 padded + FIP)" >&2
	exit 1
fi
"$DTC" -@ -q -I dts -O dtb -o "$BINARIES_DIR/foc-optee.dtbo" "$BOARD_DIR/foc-optee-overlay.dts"
